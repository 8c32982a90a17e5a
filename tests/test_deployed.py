"""`make deployed`: what runs, read from the app stack's state generations in
a real GCS API (fake-gcs-server) and Cloud Run answers in the documented
shape (tests/fake_google_apis.py), through Google's client libraries."""

from __future__ import annotations

import json

import pytest
import yaml

from tools import deployed as tool
from tools.ci_plan import image_tags, images, url_build_args, url_set_suffix
from tools.preflight import ANONYMOUS_ENV, API_ENDPOINT_ENV, TIMEOUT_ENV

from . import fake_google_apis

ENV = "production"
OLD, NEW = "v0.9.0-aaaaaaa", "v1.0.0-bbbbbbb"


@pytest.fixture(scope="module")
def fake_server(gcs_emulator):
    server = fake_google_apis.start(gcs_emulator.url)
    yield server
    server.stop()


@pytest.fixture
def google(fake_server, empty_gcs, monkeypatch):
    fake_server.fake.reset()
    for name, value in ((API_ENDPOINT_ENV, fake_server.url), ("STORAGE_EMULATOR_HOST", fake_server.url), (ANONYMOUS_ENV, "1"), (TIMEOUT_ENV, "5")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return fake_server.fake


def state(tags: dict[str, str], rollout: str = "", commit: str = "") -> str:
    """A state file as OpenTofu writes it (format version 4), with the app stack's outputs."""
    outputs = {"image_tags": {"value": tags, "type": ["object", {image: "string" for image in tags}]}, "rollout_id": {"value": rollout, "type": "string"}}
    if commit:
        outputs["infrastructure_commit_id"] = {"value": commit, "type": "string"}
    return json.dumps({"version": 4, "terraform_version": "1.10.7", "serial": 3, "lineage": "x", "outputs": outputs, "resources": []})


def write_generations(empty_gcs, platform, *states: str) -> None:
    environment = platform.environments[ENV]
    bucket = empty_gcs.client(environment.project_id).create_bucket(environment.state_bucket)
    bucket.versioning_enabled = True
    bucket.patch()
    for text in states:
        bucket.blob(f"app/{ENV}/default.tfstate").upload_from_string(text)


def serve(google, platform, *, missing: str | None = None) -> None:
    """Every service as Cloud Run's services.get answers it (Service resource,
    https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services)."""
    environment = platform.environments[ENV]
    for service in platform.services:
        if service.name == missing:
            continue
        name = f"projects/{environment.project_id}/locations/{environment.region}/services/{service.name}"
        google.run_services.add(name)
        google.run_service_fields[name] = {
            "latestReadyRevision": f"{name}/revisions/{service.name}-00003-xyz",
            "latestCreatedRevision": f"{name}/revisions/{service.name}-00003-xyz",
            "template": {"containers": [{"image": f"us-east4-docker.pkg.dev/p/r/{service.image}@sha256:{'0' * 64}"}]},
            "trafficStatuses": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
            "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
        }


def test_what_runs_and_the_rollback_to_the_previous_deploy(google, empty_gcs, platform, capsys):
    every = images(platform)
    old = {image: OLD for image in every}
    new = {image: NEW for image in every}
    # deploy 1, then a secret rotation (same tags), then deploy 2
    write_generations(empty_gcs, platform, state(old, "", "1111111"), state(old, "r1", "1111111"), state(new, "r1", "2222222"))
    serve(google, platform, missing=platform.services[-1].name)
    assert tool.main([ENV, "--json"]) == 0
    now = json.loads(capsys.readouterr().out)
    assert now["current"]["image_tags"] == new and now["current"]["infrastructure_commit"] == "2222222"
    assert now["previous"]["image_tags"] == old and now["previous"]["rollout"] == "r1"
    assert set(now["application_commits"].values()) == {"bbbbbbb"}
    first = now["services"][0]
    assert (first["revision"], first["ready"], first["traffic"]) == (
        f"{platform.services[0].name}-00003-xyz",
        True,
        [f"100% latest ({platform.services[0].name}-00003-xyz)"],
    )
    assert now["services"][-1]["problem"] == "not found in Cloud Run"
    assert now["rollback_image_tags"] == old
    environment = platform.environments[ENV]
    command = now["rollback_command"]
    assert command.startswith(f"gh workflow run deploy.yml --repo {platform.github.app_repository} --ref {environment.deploy_branch} -f image_tags='")
    # The deploy accepts it: every image named.
    filled = json.loads(command.split("-f image_tags='", 1)[1].rstrip("'"))
    assert image_tags(platform, "v9.9.9-fffffff", filled) == old

    assert tool.main([ENV]) == 0
    text = capsys.readouterr().out
    assert "  infrastructure commit: 2222222\n  application commit:    bbbbbbb\n  rollout:               r1\n" in text
    assert f"    {every[0]}: {NEW} ← {OLD}\n" in text
    assert f"  {command}\n" in text


def test_an_image_added_since_keeps_its_tag_in_the_rollback(google, empty_gcs, platform, capsys):
    added, *before = images(platform)
    write_generations(empty_gcs, platform, state({image: OLD for image in before}), state({image: NEW for image in images(platform)}))
    serve(google, platform)
    assert tool.main([ENV, "--json"]) == 0
    rollback = json.loads(capsys.readouterr().out)["rollback_image_tags"]
    assert rollback == {**{image: OLD for image in before}, added: NEW}


def test_one_deploy_only_has_nothing_to_roll_back_to(google, empty_gcs, platform, capsys):
    write_generations(empty_gcs, platform, state({image: NEW for image in images(platform)}))
    serve(google, platform)
    assert tool.main([ENV]) == 0
    assert "nothing to roll back to" in capsys.readouterr().out


def test_never_deployed_and_no_bucket_are_one_line(google, empty_gcs, platform, capsys):
    environment = platform.environments[ENV]
    assert tool.main([ENV]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"error: deployed: state bucket {environment.state_bucket} not found: check environments.{ENV}.state_bucket, or apply bootstrap-{ENV}"
    write_generations(empty_gcs, platform)
    assert tool.main([ENV]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"error: deployed: no deploy found in gs://{environment.state_bucket}/app/{ENV}/default.tfstate: the app stack of {ENV} was never deployed"


def test_the_application_commit_is_read_from_the_tag():
    assert tool.application_commit("v1.0.0-22403cf") == "22403cf"
    assert tool.application_commit("v1.2.0-rc1-22403cf-u0123abcd") == "22403cf"
    assert tool.application_commit("latest") is None


def test_an_unknown_environment_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        tool.main(["nowhere"])
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: python -m tools.deployed: argument environment: invalid choice: 'nowhere'")


def test_the_redeploy_names_every_image_and_the_rollout_as_they_run(google, empty_gcs, numbered_config, numbered, tmp_path, monkeypatch, capsys):
    config = tmp_path / "platform.yaml"
    config.write_text(yaml.safe_dump(numbered_config))
    monkeypatch.setenv("PLATFORM_CONFIG", str(config))
    url_built = {s.image for s in numbered.services if s.build.service_url_build_args}
    suffix = url_set_suffix(url_build_args(numbered, ENV))
    running = {image: NEW + (suffix if image in url_built else "") for image in images(numbered)}
    write_generations(empty_gcs, numbered, state(running, "2026-12-01"))
    serve(google, numbered)
    assert tool.main([ENV, "--json"]) == 0
    command = json.loads(capsys.readouterr().out)["redeploy_command"]
    branch = numbered.environments[ENV].deploy_branch
    assert command == (
        f"gh workflow run deploy.yml --repo {numbered.github.app_repository} --ref {branch} "
        f"-f image_tags='{json.dumps(running, separators=(',', ':'))}' -f rollout=2026-12-01"
    )
    environment = numbered.environments[ENV]
    blob = empty_gcs.client(environment.project_id).bucket(environment.state_bucket).blob(f"app/{ENV}/default.tfstate")
    # A service added since has no tag that runs; a gateway built with another URL set
    # (a service removed since) would keep the old URLs: no re-deploy by tags.
    for changed in ({image: tag for image, tag in running.items() if image != images(numbered)[0]}, {**running, **{i: NEW + "-u00000000" for i in url_built}}):
        blob.upload_from_string(state(changed))
        assert tool.main([ENV]) == 0
        assert "No re-deploy by tags: a service was added or removed since this deploy" in capsys.readouterr().out


def test_promotion_deploys_the_same_application_commit_to_another_environment(google, empty_gcs, numbered_config, numbered, tmp_path, monkeypatch, capsys):
    config = tmp_path / "platform.yaml"
    config.write_text(yaml.safe_dump(numbered_config))
    monkeypatch.setenv("PLATFORM_CONFIG", str(config))
    url_built = {s.image for s in numbered.services if s.build.service_url_build_args}
    running = {image: NEW + ("-u0123abcd" if image in url_built else "") for image in images(numbered)}
    write_generations(empty_gcs, numbered, state(running))
    serve(google, numbered)
    for target in [name for name in numbered.environments if name != ENV]:
        assert tool.main([ENV, "--promote-to", target]) == 0
        out = capsys.readouterr().out
        app = numbered.github.app_repository
        branch = numbered.environments[target].deploy_branch
        assert f'  sha=$(gh api repos/{app}/commits/bbbbbbb --jq .sha) && gh workflow run deploy.yml --repo {app} --ref {branch} -f app_ref="$sha"\n' in out
        shown = dict(line.strip().split(": ", 1) for line in out.splitlines() if line.startswith("    "))
        assert {image: tag for image, tag in shown.items() if image not in url_built} == {i: NEW for i in images(numbered) if i not in url_built}
        assert all(shown[image].startswith(f"{NEW}-u") and shown[image] != running[image] for image in url_built)


def test_promotion_needs_one_application_commit(google, empty_gcs, platform, capsys):
    first, *others = images(platform)
    write_generations(empty_gcs, platform, state({first: OLD, **{image: NEW for image in others}}))
    serve(google, platform)
    [target] = [name for name in platform.environments if name != ENV][:1]
    assert tool.main([ENV, "--promote-to", target]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "does not run one application commit" in line and "dispatching app_ref" in line
    assert tool.main([ENV, "--promote-to", ENV]) == 1
    assert "the environment read; name another" in capsys.readouterr().err
