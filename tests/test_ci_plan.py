"""What the workflows read from the configuration matches what the stacks
synthesize, and the helpers fail with one line."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys

import pytest
import yaml

from platform_config import parse_platform
from platform_config.naming import ROLLOUT_VARIABLE, registry_url_prefix
from tools import repository_ids
from tools.ci_plan import (
    PlanError,
    build_matrix,
    deployed_tags,
    environment_for_ref,
    identities,
    image_tags,
    images,
    main,
    prepare,
    tfvars,
    url_build_args,
    url_set_suffix,
)

from .conftest import ROOT, TEST_SERVICE

TAG = "v1.0.0-22403cf"


@pytest.fixture(scope="module")
def with_added_environment(raw_config):
    """The default configuration plus one environment, added as the README says: configuration only."""
    config = copy.deepcopy(raw_config)
    template = next(iter(config["environments"].values()))
    assert "preview" not in [e["deploy_branch"] for e in config["environments"].values()]
    config["environments"]["preview"] = {
        **copy.deepcopy(template),
        "deploy_branch": "preview",
        "project_id": f"{template['project_id']}-preview",
        "state_bucket": f"{template['state_bucket']}-preview",
        "adopt_secrets": [],
    }
    return parse_platform(config)


def test_tfvars_set_every_variable_of_the_app_stack(stacks, platform, env_name):
    values = tfvars(platform, {image: TAG for image in images(platform)}, "r1", infrastructure_commit="0123abc")
    assert set(values) == set(stacks[f"app-{env_name}"]["variable"])
    assert values[ROLLOUT_VARIABLE] == "r1" and values["infrastructure_commit"] == "0123abc"
    assert values["plan_unbuilt_images"] == [], "a deploy reads every image from the registry"
    assert stacks[f"app-{env_name}"]["output"]["infrastructure_commit_id"]["value"] == "${var.infrastructure_commit}"
    with pytest.raises(PlanError, match="not a git commit id"):
        tfvars(platform, {image: TAG for image in images(platform)}, "r1", infrastructure_commit="$(git rev-parse HEAD)")


def test_one_build_per_image_with_its_dockerfile(numbered, env_name):
    matrix = build_matrix(numbered, env_name, {image: TAG for image in images(numbered)})
    assert [entry["image"] for entry in matrix] == images(numbered)
    for entry in matrix:
        service = next(s for s in numbered.services if s.image == entry["image"])
        assert (entry["dockerfile"], entry["context"]) == (service.build.dockerfile, service.build.context)
        assert entry["ref"].endswith(f"/{entry['image']}:{TAG}")


def test_url_built_images_get_every_deterministic_url(numbered, env_name):
    environment = numbered.environments[env_name]
    matrix = {entry["image"]: entry for entry in build_matrix(numbered, env_name, {image: TAG for image in images(numbered)})}
    # Cloud Run's deterministic URL (https://cloud.google.com/run/docs/triggering/https-request#deterministic).
    expected = {f"{s.url_name}=https://{s.name}-{environment.project_number}.{environment.region}.run.app" for s in numbered.services if s.url_name}
    for service in numbered.services:
        assert set(matrix[service.image]["build_args"]) == (expected if service.build.service_url_build_args else set())


def test_rollback_overrides_every_tag_or_none(numbered):
    first, *rest = images(numbered)
    rollback = {first: "v0.9.0-aaaaaaa", **{image: "v0.9.0-bbbbbbb" for image in rest}}
    assert image_tags(numbered, TAG, rollback) == rollback
    # A partial rollback would take the others from the branch head: refused.
    with pytest.raises(PlanError, match=rf"image_tags names \['{first}'\] but not \{rest!r}: name every image"):
        image_tags(numbered, TAG, {first: "v0.9.0-aaaaaaa"})
    with pytest.raises(PlanError, match="unknown image"):
        image_tags(numbered, TAG, {"no_such_image": TAG})
    with pytest.raises(PlanError, match="malformed tag"):
        image_tags(numbered, TAG, {first: "not a tag"})


def test_identities_name_the_configured_accounts(numbered, env_name):
    environment = numbered.environments[env_name]
    found = identities(numbered, env_name)
    assert found["provider"].startswith(f"projects/{environment.project_number}/locations/global/workloadIdentityPools/")
    assert found["deployer"] == f"{environment.deployer_account_id}@{environment.project_id}.iam.gserviceaccount.com"


def test_missing_project_number_is_one_line(platform, env_name):
    with pytest.raises(PlanError, match=f"environments.{env_name}.project_number is not set"):
        identities(platform, env_name)


def test_deployed_tags_come_from_the_stack_output(platform):
    assert deployed_tags(platform, {"image_tags": {"value": {"mesh": TAG}}}) == {"mesh": TAG}
    with pytest.raises(PlanError, match="deploy it once first"):
        deployed_tags(platform, {})


def test_each_deploy_branch_deploys_its_environment(platform, with_added_environment):
    for configured in (platform, with_added_environment):
        for name, environment in configured.environments.items():
            assert environment_for_ref(configured, f"refs/heads/{environment.deploy_branch}") == name


def test_prepare_outputs_the_environment_of_the_callers_ref(numbered, numbered_config, tmp_path, monkeypatch, capsys):
    config = tmp_path / "platform.yaml"
    config.write_text(yaml.safe_dump(numbered_config))
    monkeypatch.setenv("PLATFORM_CONFIG", str(config))
    app = tmp_path / "app"
    app.mkdir()
    (app / "VERSION").write_text("1.0.0\n")
    for command in (["init", "-q"], ["add", "VERSION"], ["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "v"]):
        subprocess.run(["git", "-C", str(app), *command], check=True)
    for name, environment in numbered.environments.items():
        assert main(["prepare", f"refs/heads/{environment.deploy_branch}", str(app)]) == 0
        outputs = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
        assert outputs["environment"] == name
        assert {key: outputs[key] for key in identities(numbered, name)} == identities(numbered, name)
        registry = registry_url_prefix(environment.region, environment.project_id, environment.registry_repository)
        assert all(entry["ref"].startswith(f"{registry}/") and entry["build"] is True for entry in json.loads(outputs["matrix"]))
        # Tags named by image_tags are deployed only if built before: never built from app_ref.
        named = json.dumps({image: "v0.9.0-0abcdef" for image in images(numbered)})
        assert main(["prepare", f"refs/heads/{environment.deploy_branch}", str(app), named]) == 0
        outputs = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
        assert [(entry["tag"], entry["build"]) for entry in json.loads(outputs["matrix"])] == [("v0.9.0-0abcdef", False)] * len(images(numbered))
        # Where `make synth` writes the app stack (cdktf.json's output, cdktf.out by default); tofu runs there.
        outdir = json.loads((ROOT / "cdktf.json").read_text()).get("output", "cdktf.out")
        assert outputs["stack"] == f"{outdir}/stacks/app-{name}"
        assert main([name, "stack"]) == 0 and capsys.readouterr().out.strip() == outputs["stack"]


def test_a_ref_that_deploys_nothing_fails_first_in_one_line(platform):
    """Tags, pull requests, bare names and other branches: the error names the
    ref, the configuration field and every configured deploy branch, before
    anything else is read (the application directory does not exist here)."""
    branches = [environment.deploy_branch for environment in platform.environments.values()]
    unconfigured = "-".join(branches) + "-feature"
    for ref in (f"refs/heads/{unconfigured}", f"refs/tags/{branches[0]}", "refs/pull/1/merge", branches[0]):
        result = subprocess.run([sys.executable, "-m", "tools.ci_plan", "prepare", ref, "/nonexistent"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 2 and result.stdout == ""
        [line] = result.stderr.splitlines()
        assert f"{ref!r} is not a deploy branch" in line and "environments.<name>.deploy_branch in " in line, line
        for name, environment in platform.environments.items():
            assert f"refs/heads/{environment.deploy_branch} ({name})" in line


def test_environments_list_is_the_configuration(platform):
    result = subprocess.run([sys.executable, "-m", "tools.ci_plan", "environments"], cwd=ROOT, capture_output=True, text=True)
    assert json.loads(result.stdout) == list(platform.environments)


def test_a_pull_request_adding_a_service_plans_it_as_new(stacks, platform, config_copy, capsys, tmp_path, monkeypatch):
    """The deployed stack has no tag for the added image (test_svc): every
    input of the app stack is still set, the new image is planned unbuilt,
    and the note says the bootstrap is applied before the merge."""
    config = config_copy
    added = {*stacks["app-production"]["variable"], "image_tag_test_svc"}
    deployed = {image: TAG for image in images(platform)}
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"image_tags": {"value": deployed}, "rollout_id": {"value": "r7"}, "infrastructure_commit_id": {"value": "feed123"}}))
    config["services"].append(copy.deepcopy(TEST_SERVICE))
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("PLATFORM_CONFIG", str(path))
    assert main(["production", "deployed-tfvars", str(outputs)]) == 0
    captured = capsys.readouterr()
    values = json.loads(captured.out)
    assert set(values) == set(added)
    assert values["image_tag_test_svc"] == "not-built-yet" and values["plan_unbuilt_images"] == ["test_svc"]
    assert all(values[f"image_tag_{image}"] == TAG for image in deployed) and values["rollout"] == "r7"
    assert values["infrastructure_commit"] == "feed123", "a plan of what runs keeps its commit"
    [note] = captured.err.splitlines()
    assert note.startswith("note: image(s) ['test_svc'] not deployed yet")
    assert "applies bootstrap-production from this change BEFORE it is merged" in note


def test_a_pull_request_removing_a_service_ignores_its_deployed_image(platform, capsys, tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"image_tags": {"value": {**{image: TAG for image in images(platform)}, "gone_service": TAG}}}))
    env_name = next(iter(platform.environments))
    assert main([env_name, "deployed-tfvars", str(outputs)]) == 0
    captured = capsys.readouterr()
    values = json.loads(captured.out)
    assert "image_tag_gone_service" not in values and values["plan_unbuilt_images"] == []
    assert captured.err == "note: image(s) ['gone_service'] deployed but no longer configured: their services are planned for destruction.\n"


FAKE_TOFU = """#!/usr/bin/env bash
case "$*" in
  *"output -json"*) cat "$FAKE_OUTPUTS" ;;
  *"show -json"*) echo '{"resource_changes": []}' ;;
esac
"""


def test_the_pull_request_plan_of_an_added_service_runs_and_says_why(platform, tmp_path):
    """tools/plan_deployed.sh with a stand-in tofu: the deployed stack lacks
    an image the configuration has; the plan runs, the summary carries the note."""
    *deployed, new_image = images(platform)
    env_name = next(iter(platform.environments))
    outdir = tmp_path / "out"
    (outdir / "stacks" / f"app-{env_name}").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    tofu = tmp_path / "bin" / "tofu"
    tofu.write_text(FAKE_TOFU)
    tofu.chmod(0o755)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"image_tags": {"value": {image: TAG for image in deployed}}}))
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "FAKE_OUTPUTS": str(outputs), "CDKTF_OUTDIR": str(outdir)}
    # The script runs at the repository's root (.venv/bin/python, plan-summary.md): a stand-in root.
    for name in (".venv", "tools", "platform_config", "config"):
        (tmp_path / name).symlink_to(ROOT / name)
    result = subprocess.run(["bash", "tools/plan_deployed.sh", env_name], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    tfvars_file = json.loads((outdir / "stacks" / f"app-{env_name}" / "deployed.auto.tfvars.json").read_text())
    assert tfvars_file["plan_unbuilt_images"] == [new_image]
    summary = (tmp_path / "plan-summary.md").read_text()
    assert f"> **Note:** image(s) ['{new_image}'] not deployed yet" in summary


def test_the_gateway_tag_changes_with_the_urls_it_bakes_in(numbered_config, tmp_path, monkeypatch, capsys):
    """Same application commit, one service added: every image that bakes the
    URLs in gets another tag (so the deploy rebuilds it); the others keep theirs.
    The suffix is -u + the first 8 hex digits of the SHA-256 of the sorted
    NAME=URL lines (README, "Deploy")."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "VERSION").write_text("1.0.0\n")
    for command in (["init", "-q"], ["add", "VERSION"], ["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "v"]):
        subprocess.run(["git", "-C", str(app), *command], check=True)
    sha = subprocess.run(["git", "-C", str(app), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    added = copy.deepcopy(numbered_config)
    added["services"].append(copy.deepcopy(TEST_SERVICE))

    def prepared(config) -> dict[str, str]:
        path = tmp_path / "platform.yaml"
        path.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("PLATFORM_CONFIG", str(path))
        environment = next(iter(config["environments"].values()))
        assert main(["prepare", f"refs/heads/{environment['deploy_branch']}", str(app)]) == 0
        outputs = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
        return json.loads(outputs["tags"])

    before, after = prepared(numbered_config), prepared(added)
    url_built = {s["image"] for s in numbered_config["services"] if s["build"].get("service_url_build_args")}
    assert url_built, "the default platform has a gateway built with the URLs"
    env = next(iter(numbered_config["environments"].values()))
    region, number = env["region"], env["project_number"]
    for image, tag in before.items():
        if image in url_built:
            lines = sorted(f"{s['url_name']}=https://{s['name']}-{number}.{region}.run.app" for s in numbered_config["services"] if s.get("url_name"))
            assert tag == f"v1.0.0-{sha}-u" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:8]
            assert after[image] != tag
        else:
            assert tag == after[image] == f"v1.0.0-{sha}"
    assert prepared(numbered_config) == before, "the same URL set gives the same tag"


def test_a_rollback_keeps_the_gateway_tag_it_names(numbered):
    gateway = next(s.image for s in numbered.services if s.build.service_url_build_args)
    suffix = url_set_suffix(url_build_args(numbered, next(iter(numbered.environments))))
    rollback = {**{image: "v0.9.0-aaaaaaa" for image in images(numbered)}, gateway: "v0.9.0-aaaaaaa-u0123abcd"}
    assert image_tags(numbered, TAG, rollback, suffix) == rollback


# --- repository ids (issue 23) ------------------------------------------------------


@pytest.mark.parametrize("field", ["app_repository_id", "infra_repository_id"])
def test_a_protected_environment_is_not_deployed_without_repository_ids(numbered_config, env_name, field):
    """Checked first after the environment: a protected one stops in one line
    naming the unset id and the fix; an unprotected one goes on (here to the
    application directory, which does not exist)."""
    config = copy.deepcopy(numbered_config)
    config["github"][field] = None
    platform = parse_platform(config)
    environment = platform.environments[env_name]
    with pytest.raises(PlanError) as caught:
        prepare(platform, f"refs/heads/{environment.deploy_branch}", "/nonexistent")
    message = str(caught.value)
    if environment.protected:
        assert f"{env_name} is protected and github.{field} is not set" in message and "make repository-ids" in message, message
        assert "\n" not in message
    else:
        assert "cannot read the application's version" in message, message


def test_the_default_production_is_protected_and_staging_is_not(platform):
    assert platform.environments["production"].protected and not platform.environments["staging"].protected


def test_repository_ids_prints_the_gh_commands(platform, capsys):
    assert repository_ids.main([]) == 0
    out = capsys.readouterr().out
    for repository in (platform.github.app_repository, platform.github.infra_repository):
        assert f"gh api repos/{repository} --jq .id\n" in out
    assert "make repository-ids APP_ID=" in out


def test_repository_ids_are_written_into_the_configuration(tmp_path, monkeypatch, capsys):
    config = tmp_path / "platform.yaml"
    original = (ROOT / "config" / "platform.yaml").read_text()
    config.write_text(original)
    monkeypatch.setenv("PLATFORM_CONFIG", str(config))
    assert repository_ids.main(["118000001", "118000002"]) == 0
    written = config.read_text()
    assert parse_platform(yaml.safe_load(written)).github.model_dump(include={"app_repository_id", "infra_repository_id"}) == {
        "app_repository_id": 118_000_001,
        "infra_repository_id": 118_000_002,
    }
    # Only the two lines changed; comments stay.
    changed = [(a, b) for a, b in zip(original.splitlines(), written.splitlines(), strict=True) if a != b]
    assert [b.split(":")[0].strip() for _, b in changed] == ["app_repository_id", "infra_repository_id"]
    capsys.readouterr()
    for args, message in (
        (["118000003", "118000003"], "also app_repository_id"),
        (["0", "5"], "is not a GitHub repository id"),
        (["12a", "5"], "is not a GitHub repository id"),
        ([str(2**63), "5"], "is not a GitHub repository id"),
    ):
        assert repository_ids.main(args) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert message in line, line
        assert config.read_text() == written, "a refused id leaves the file as it was"


def test_plans_skip_environments_without_a_project_number_with_a_notice(numbered_config, capsys, tmp_path, monkeypatch):
    """planned-environments lists those with a project number; every other one
    gets one `::notice` line (GitHub's workflow command) naming the fix."""
    config = copy.deepcopy(numbered_config)
    unplanned = next(iter(config["environments"]))
    config["environments"][unplanned]["project_number"] = None
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("PLATFORM_CONFIG", str(path))
    assert main(["planned-environments"]) == 0
    assert json.loads(capsys.readouterr().out) == [name for name in config["environments"] if name != unplanned]
    assert main(["unplanned-notices"]) == 0
    [notice] = capsys.readouterr().out.splitlines()
    assert notice.startswith(f"::notice title=not planned: {unplanned}::environments.{unplanned}.project_number is not set") and "gcloud projects" in notice


@pytest.mark.parametrize("entry", [None, "feed123", {"value": None}, {"value": 7}, {"value": "not a commit!"}])
def test_a_malformed_commit_output_reads_as_none_recorded(platform, tmp_path, capsys, entry):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"infrastructure_commit_id": entry, "rollout_id": entry}))
    env_name = next(iter(platform.environments))
    assert main([env_name, "deployed-commit", str(outputs)]) == 0
    assert capsys.readouterr().out == "\n"
    outputs.write_text(json.dumps({"image_tags": entry}))
    assert main([env_name, "deployed-tfvars", str(outputs)]) == 3
    assert "has no `image_tags` output" in capsys.readouterr().err
