"""`make preflight`: every prerequisite of a deploy, against a real GCS API
(fake-gcs-server) and a fake of the other Google APIs (tests/fake_google_apis.py),
with Google's real client libraries pointed at them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.auth.exceptions import DefaultCredentialsError

from platform_config import Platform
from platform_config.naming import STATE_OBJECT, app_state_prefix, data_bucket_names, service_account_email
from platform_config.role_permissions import PLANNER_PERMISSIONS
from tools import preflight as tool
from tools.preflight import (
    ANONYMOUS_ENV,
    API_ENDPOINT_ENV,
    TIMEOUT_ENV,
    required_permissions,
)

from . import fake_google_apis
from .conftest import ENVIRONMENTS, ROOT
from .fake_google_apis import operator_secrets_read, runtime_email, url_secret_ids

STATE_FILE = "terraform.tfstate"


@pytest.fixture(scope="session")
def fake_server(gcs_emulator):
    server = fake_google_apis.start(gcs_emulator.url)
    yield server
    server.stop()


def data_buckets(platform: Platform, env_name: str) -> list[str]:
    return list(data_bucket_names(platform, env_name).values())


@dataclass
class World:
    """The fake projects, provisioned as a bootstrap apply leaves them."""

    fake: fake_google_apis.FakeGoogle
    gcs: object
    outdir: Path
    platform: Platform
    env_name: str

    @property
    def environment(self):
        return self.platform.environments[self.env_name]

    @property
    def project(self) -> str:
        return self.environment.project_id

    def secret(self, secret_id: str) -> str:
        return f"projects/{self.project}/secrets/{secret_id}"

    def provision(self) -> World:
        fake_google_apis.provision_buckets(self.gcs, self.fake, self.platform, self.env_name)
        self.fake.provision(self.platform, self.env_name)
        # What the bootstrap created (the adopted URL secrets were imported).
        self.write_bootstrap_state(
            [("google_service_account", "email", runtime_email(self.platform, s.name, self.env_name)) for s in self.platform.services]
            + [("google_secret_manager_secret", "secret_id", s) for s in url_secret_ids(self.platform, self.env_name)]
            + [("google_storage_bucket", "name", name) for name in data_buckets(self.platform, self.env_name)]
        )
        return self

    def write_bootstrap_state(self, resources) -> None:
        path = self.outdir / "stacks" / f"bootstrap-{self.env_name}" / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tfstate(resources))

    def run(self, identity: str = "deployer", platform: Platform | None = None) -> tool.Report:
        return tool.preflight(platform or self.platform, self.env_name, identity)


def tfstate(resources) -> str:
    """A state file as OpenTofu writes it (format version 4), reduced to what the preflight reads."""
    return json.dumps(
        {
            "version": 4,
            "resources": [
                {"mode": "managed", "type": kind, "name": f"r{index}", "instances": [{"attributes": {attribute: value}}]}
                for index, (kind, attribute, value) in enumerate(resources)
            ],
        }
    )


@pytest.fixture
def env_name() -> str:
    """Each run asks some 75 questions, so the checks run on the environment of
    the seed's scenario; the healthy case runs on every environment."""
    return "production"


@pytest.fixture
def world(fake_server, empty_gcs, monkeypatch, tmp_path, platform, env_name) -> World:
    fake_server.fake.reset()
    monkeypatch.setenv(API_ENDPOINT_ENV, fake_server.url)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_server.url)
    monkeypatch.setenv(ANONYMOUS_ENV, "1")
    monkeypatch.setenv(TIMEOUT_ENV, "5")
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return World(fake_server.fake, empty_gcs, tmp_path, platform, env_name)


def with_environment(platform: Platform, env_name: str, **changes) -> Platform:
    """The platform with fields of one environment changed (also fields that
    another branch adds to the model, such as adopt_services)."""
    environment = platform.environments[env_name].model_copy(update=changes)
    return platform.model_copy(update={"environments": {**platform.environments, env_name: environment}})


# --- a healthy environment, and the seed's scenario --------------------------


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
@pytest.mark.parametrize("identity", ["deployer", "planner"])
def test_a_provisioned_environment_passes(world, identity):
    world.provision()
    report = world.run(identity)
    assert report.problems == []
    assert report.notes == []


def test_the_probe_object_is_removed(world):
    world.provision()
    assert world.run().problems == []
    bucket = world.environment.state_bucket
    assert [blob.name for blob in world.gcs.client(world.project).list_blobs(bucket)] == [f"{app_state_prefix(world.env_name)}/{STATE_OBJECT}"]


def test_production_without_registry_bucket_and_a_secret_names_all_three(world, capsys):
    """The seed's scenario, through the command line."""
    world.provision()
    env, fake = world.environment, world.fake
    world.gcs.reset()
    for name in data_buckets(world.platform, "production"):
        world.gcs.client(world.project).create_bucket(name)
    fake.repositories.clear()
    missing_secret = operator_secrets_read(world.platform)[0]
    del fake.secrets[world.secret(missing_secret)]

    assert tool.main(["production"]) == 1
    lines = capsys.readouterr().err.splitlines()
    readers = ", ".join(s.name for s in world.platform.services if missing_secret in s.secrets.values())
    assert lines == [
        f"preflight: state bucket gs://{env.state_bucket} does not exist in {env.project_id}: apply bootstrap-production first (README, Deploy from scratch)",
        f"preflight: Artifact Registry repository {env.registry_repository} does not exist in {env.project_id} "
        f"({env.region}): apply bootstrap-production first (README, Deploy from scratch)",
        f"preflight: operator secret {missing_secret} does not exist in {env.project_id} (read by {readers}): an operator "
        f"creates it with its value: `gcloud secrets create {missing_secret} --project {env.project_id} --data-file=-`",
    ]


# --- each missing prerequisite, its own line -------------------------------------


def test_every_missing_operator_secret_and_empty_one_is_named(world):
    world.provision()
    secrets = operator_secrets_read(world.platform)
    missing, empty = secrets[::2], secrets[1::2]
    for secret in missing:
        del world.fake.secrets[world.secret(secret)]
    for secret in empty:
        world.fake.secrets[world.secret(secret)] = ["DISABLED", "DESTROYED"]
    problems = world.run().problems
    assert len(problems) == len(secrets)
    for secret in missing:
        assert sum(f"operator secret {secret} does not exist" in p for p in problems) == 1
    for secret in empty:
        assert sum(f"operator secret {secret} in {world.project} has no enabled version" in p for p in problems) == 1
    assert all("gcloud secrets" in p for p in problems)


def test_every_missing_runtime_identity_is_named(world):
    world.provision()
    world.fake.service_accounts.clear()
    assert world.run().problems == [
        f"runtime identity of {s.name} ({runtime_email(world.platform, s.name, world.env_name)}) missing: "
        f"apply bootstrap-{world.env_name} first (README, Deploy from scratch)"
        for s in world.platform.services
    ]


def test_every_disabled_api_is_named(world):
    world.provision()
    world.fake.enabled_apis[world.project] = set()
    assert world.run().problems == [
        f"API {api} is not enabled in {world.project}: apply bootstrap-{world.env_name} or run `gcloud services enable {api} --project {world.project}`"
        for api in world.platform.apis
    ]


def test_url_secrets_and_data_buckets_missing(world):
    world.provision()
    adopted = set(world.environment.adopt_secrets)
    for secret in url_secret_ids(world.platform, world.env_name):
        del world.fake.secrets[world.secret(secret)]
    buckets = data_bucket_names(world.platform, world.env_name)
    for name in buckets.values():
        world.gcs.client(world.project).get_bucket(name).delete()
    problems = world.run().problems
    for secret in url_secret_ids(world.platform, world.env_name):
        expected = "is adopted (environments." if secret in adopted else "missing in"
        assert sum(p.startswith(f"URL secret {secret} {expected}") for p in problems) == 1
    first = f"apply bootstrap-{world.env_name} first (README, Deploy from scratch)"
    assert problems[len(problems) - len(buckets) :] == [f"{key} bucket gs://{name} missing in {world.project}: {first}" for key, name in buckets.items()]
    assert len(problems) == len(url_secret_ids(world.platform, world.env_name)) + len(buckets)
    # Adopted but missing: the line says to stop adopting it.
    adopting = with_environment(world.platform, world.env_name, adopt_buckets=list(buckets))
    lines = [p for p in world.run(platform=adopting).problems if " bucket gs://" in p]
    assert lines == [
        f"{key} bucket gs://{name} is adopted (environments.{world.env_name}.adopt_buckets) but does not exist in {world.project}: remove it from adopt_buckets, then {first}"
        for key, name in buckets.items()
    ]


def test_a_registry_of_another_format(world):
    world.provision()
    world.fake.repositories = {name: "MAVEN" for name in world.fake.repositories}
    [problem] = world.run().problems
    assert "has format MAVEN, not DOCKER" in problem


def test_every_kind_of_problem_in_one_run(world):
    world.provision()
    fake, platform = world.fake, world.platform
    fake.repositories.clear()
    del fake.secrets[world.secret(operator_secrets_read(platform)[-1])]
    fake.enabled_apis[world.project].discard(platform.apis[-1])
    fake.service_accounts.discard(runtime_email(platform, platform.services[-1].name, world.env_name))
    fake.denied_permissions.add(platform.deployer_permissions[0])
    problems = world.run().problems
    expected = [
        "Artifact Registry repository",
        f"operator secret {operator_secrets_read(platform)[-1]}",
        f"API {platform.apis[-1]}",
        f"runtime identity of {platform.services[-1].name}",
        f"lacks {platform.deployer_permissions[0]} on project",
    ]
    assert len(problems) == len(expected)
    for text in expected:
        assert sum(text in p for p in problems) == 1, text


# --- 403 against 404 ------------------------------------------------------------


def test_a_forbidden_secret_is_not_a_missing_secret(world):
    """As the planner, whose role reads secrets' metadata."""
    world.provision()
    forbidden, missing = operator_secrets_read(world.platform)[:2]
    world.fake.forbidden.add(world.secret(forbidden))
    del world.fake.secrets[world.secret(missing)]
    problems = world.run("planner").problems
    assert len(problems) == 2
    assert f"permission denied on operator secret {forbidden}" in problems[0]
    assert "secretmanager.secrets.get missing, so whether it exists is unknown" in problems[0]
    assert f"operator secret {missing} does not exist" in problems[1]


def test_a_forbidden_registry_is_not_a_missing_registry(world):
    world.provision()
    world.fake.forbidden.update(world.fake.repositories)
    [problem] = world.run().problems
    assert problem.startswith(f"permission denied on Artifact Registry repository {world.environment.registry_repository}")


@pytest.mark.parametrize(
    "bucket_exists, forbidden, expected",
    [
        (False, ["settings"], "state bucket gs://{bucket} does not exist in {project}: apply bootstrap-{env} first"),
        (True, ["settings", "objects"], "permission denied on state bucket gs://{bucket} (storage.objects.list missing"),
        (True, ["settings"], "cannot read the settings of state bucket gs://{bucket} (storage.buckets.get denied)"),
    ],
)
def test_a_403_on_the_state_bucket_tells_missing_bucket_from_missing_permission(world, bucket_exists, forbidden, expected):
    world.provision()
    bucket = world.environment.state_bucket
    if not bucket_exists:
        world.gcs.client(world.project).get_bucket(bucket).delete(force=True)
    world.fake.forbidden.update({"settings": f"b/{bucket}", "objects": f"b/{bucket}/o"}[f] for f in forbidden)
    [problem] = world.run().problems
    assert problem.startswith(expected.format(bucket=bucket, project=world.project, env=world.env_name))


def test_a_bucket_without_versioning(world):
    world.provision()
    bucket = world.gcs.client(world.project).get_bucket(world.environment.state_bucket)
    bucket.versioning_enabled = False
    bucket.patch()
    [problem] = world.run().problems
    assert f"gs://{bucket.name} does not keep versions" in problem
    assert "--versioning" in problem


# --- permissions, from configuration ---------------------------------------------


def test_missing_permissions_are_listed_on_one_line_per_resource(world):
    world.provision()
    permissions, _ = required_permissions(world.platform, "deployer")
    denied = {permissions[0], permissions[-1], "storage.objects.delete", "iam.serviceAccounts.actAs", "secretmanager.versions.add"}
    world.fake.denied_permissions.update(denied)
    problems = world.run().problems
    project_line = [p for p in problems if p.endswith("or run as the deployer") and f"on project {world.project}" in p]
    assert project_line == [
        f"the deployer of {world.env_name} lacks {', '.join(sorted(denied & set(permissions)))} on project {world.project}: "
        f"re-apply bootstrap-{world.env_name} (it grants them), or run as the deployer"
    ]
    assert sum(f"lacks storage.objects.delete on gs://{world.environment.state_bucket}" in p for p in problems) == 1
    accounts = [p for p in problems if "lacks iam.serviceAccounts.actAs on" in p]
    assert len(accounts) == len(world.platform.services)
    secrets = [p for p in problems if "lacks secretmanager.versions.add on secret" in p]
    assert len(secrets) == len(url_secret_ids(world.platform, world.env_name))


def test_a_403_outside_the_identitys_configured_permissions_is_a_note(world):
    """E.g. a deployer that configuration gives no secret reads: the planner's
    run, or an admin's, checks the operator secrets."""
    world.provision()
    platform = world.platform.model_copy(update={"deployer_permissions": [p for p in world.platform.deployer_permissions if p != "secretmanager.secrets.get"]})
    secrets = operator_secrets_read(platform)
    world.fake.forbidden.update(world.secret(s) for s in secrets)
    report = world.run(platform=platform)
    assert report.problems == []
    [note] = report.notes
    assert note.startswith(f"not checked as the deployer of {world.env_name}, which configuration does not give secretmanager.secrets.get: ")
    assert all(f"operator secret {s}" in note for s in secrets)


def test_the_planner_needs_only_reads(world):
    world.provision()
    permissions, _ = required_permissions(world.platform, "deployer")
    writes = {p for p in permissions if p.rsplit(".", 1)[1] not in {"get", "list", "getIamPolicy"}}
    world.fake.denied_permissions.update(
        writes | {"storage.objects.create", "storage.objects.delete", "iam.serviceAccounts.actAs", "secretmanager.versions.add"}
    )
    assert world.run("planner").problems == []
    assert world.run("deployer").problems != []


def test_required_permissions_come_from_configuration(platform):
    deployer, unknown = required_permissions(platform, "deployer")
    assert unknown == []
    assert set(platform.deployer_permissions) <= set(deployer)
    planner, _ = required_permissions(platform, "planner")
    assert planner == sorted(PLANNER_PERMISSIONS)
    assert all(p.rsplit(".", 1)[1] in {"get", "list", "getIamPolicy"} for p in planner)


def test_a_permission_google_does_not_know_is_one_line_and_the_rest_goes_on(world):
    world.provision()
    permissions, _ = required_permissions(world.platform, "deployer")
    world.fake.unknown_permissions.add(permissions[0])
    member = f"serviceAccount:{service_account_email(world.environment.deployer_account_id, world.project)}"
    world.fake.bindings[world.project].append({"role": "roles/run.admin", "members": [member]})
    problems = world.run().problems
    assert len(problems) == 2
    assert problems[0].startswith("Resource Manager (")
    assert "answered unexpectedly: 400 " in problems[0]
    assert problems[0].endswith(f"Permission {permissions[0]} is not valid for this resource.")
    assert "holds roles/run.admin" in problems[1]


def test_a_role_without_expansion_is_reported(world):
    world.provision()
    platform = world.platform.model_copy(update={"deployer_project_roles": [*world.platform.deployer_project_roles, "roles/run.viewer"]})
    problems = world.run(platform=platform).problems
    assert problems[0].startswith("no permission list for roles/run.viewer (deployer_project_roles)")


def test_extra_deployer_roles_each_with_the_command_to_remove_it(world):
    world.provision()
    member = f"serviceAccount:{service_account_email(world.environment.deployer_account_id, world.project)}"
    extra = ["roles/storage.admin", "roles/run.admin"]
    world.fake.bindings[world.project] += [{"role": role, "members": [member]} for role in extra]
    world.fake.bindings[world.project].append({"role": "roles/owner", "members": ["user:admin@example.com"]})
    assert world.run().problems == [
        f"the deployer {member.removeprefix('serviceAccount:')} holds {role} on {world.project}, beyond configuration: "
        f"remove it with `gcloud projects remove-iam-policy-binding {world.project} --member={member} --role={role}` "
        "or add it to deployer_project_roles"
        for role in extra
    ]


# --- existing resources the stacks would create (409) -------------------------------


def test_existing_services_must_be_adopted_or_managed(world):
    world.provision()
    env = world.environment
    names = [s.name for s in world.platform.services]
    world.fake.run_services.update(f"projects/{world.project}/locations/{env.region}/services/{n}" for n in names)
    # The first is in the app stack's state, the second adopted, the rest neither.
    world.gcs.client(world.project).bucket(env.state_bucket).blob(f"app/{world.env_name}/default.tfstate").upload_from_string(
        tfstate([("google_cloud_run_v2_service", "name", names[0])])
    )
    platform = with_environment(world.platform, world.env_name, adopt_services=[names[1]])
    assert world.run(platform=platform).problems == [
        f"service {n} exists in {world.project} but is not adopted: add it to environments.{world.env_name}.adopt_services or the apply fails with 409"
        for n in names[2:]
    ]


def test_existing_bootstrap_resources_outside_its_state_must_be_adopted(world):
    world.provision()
    world.write_bootstrap_state([])
    platform = world.platform
    problems = world.run().problems
    adopted = set(world.environment.adopt_secrets)
    not_adopted = [s for s in url_secret_ids(platform, world.env_name) if s not in adopted]
    assert len(problems) == len(platform.services) + len(not_adopted) + len(platform.data_buckets)
    assert all("but is not adopted" in p for p in problems)
    assert sum("adopt_runtime_accounts" in p for p in problems) == len(platform.services)
    assert sum("adopt_buckets" in p for p in problems) == len(platform.data_buckets)
    everything_adopted = with_environment(
        platform, world.env_name, adopt_runtime_accounts=[s.name for s in platform.services], adopt_buckets=list(platform.data_buckets)
    )
    assert not any("adopt_runtime_accounts" in p or "adopt_buckets" in p for p in world.run(platform=everything_adopted).problems)


def test_without_the_bootstrap_state_adoption_is_a_note_not_a_guess(world):
    world.provision()
    (world.outdir / "stacks" / f"bootstrap-{world.env_name}" / STATE_FILE).unlink()
    report = world.run()
    assert report.problems == []
    [note] = report.notes
    assert f"the state of bootstrap-{world.env_name} is local" in note


# --- failures of the APIs themselves: one line each, bounded in time ---------------


def test_an_api_that_never_answers_is_bounded(world, monkeypatch):
    silent = fake_google_apis.SilentServer()
    monkeypatch.setenv(API_ENDPOINT_ENV, silent.url)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", silent.url)
    monkeypatch.setenv(TIMEOUT_ENV, "0.2")
    try:
        started = time.monotonic()
        problems = world.run().problems
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed < 10
    assert problems and all("did not answer within 0.2 s" in p for p in problems)
    assert len(problems) == len(set(problems))


def test_an_unreachable_api_is_one_line_per_api(world, monkeypatch):
    silent = fake_google_apis.SilentServer()
    silent.close()  # nothing listens there any more
    monkeypatch.setenv(API_ENDPOINT_ENV, silent.url)
    monkeypatch.setenv(TIMEOUT_ENV, "0.3")
    world.provision()
    problems = world.run().problems
    assert problems and all(p.startswith("cannot reach ") for p in problems)
    apis = {p.split(" (")[0] for p in problems}
    assert len(problems) == len(apis)


def test_garbage_answers_are_one_line_each(world):
    world.provision()
    world.fake.garbage = True
    problems = world.run().problems
    assert problems and all("answered with something that is not its API's JSON" in p for p in problems)


def test_a_malformed_storage_emulator_host_is_one_line(world, monkeypatch):
    world.provision()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "::not a host")
    [problem] = world.run().problems
    assert problem.startswith("cannot reach Cloud Storage (::not a host)")


# --- credentials and usage -----------------------------------------------------------


def test_missing_credentials_are_one_line(world, monkeypatch, capsys):
    monkeypatch.delenv(ANONYMOUS_ENV)

    def no_credentials(**_):
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(tool.google.auth, "default", no_credentials)
    assert tool.main([world.env_name]) == 1
    assert capsys.readouterr().err.strip() == (
        "preflight: no Google credentials: run `gcloud auth application-default login` (in CI, google-github-actions/auth runs first)"
    )


def test_a_credentials_path_that_is_a_directory_is_one_line(world, monkeypatch, tmp_path):
    monkeypatch.delenv(ANONYMOUS_ENV)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path))
    [problem] = world.run().problems
    assert problem.startswith(f"cannot read the credentials file {tmp_path}: Is a directory")


def federated_credentials(tmp_path: Path, token_url: str) -> str:
    """A credentials file as google-github-actions/auth writes it (Workload
    Identity Federation: an OIDC token exchanged at an STS endpoint), with the
    token endpoint of a fake."""
    oidc_token = tmp_path / "oidc-token"
    oidc_token.write_text("header.payload.signature")
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github-pool/providers/github-oidc",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": token_url,
        "credential_source": {"file": str(oidc_token)},
    }))  # fmt: skip
    return str(path)


def test_refused_credentials_are_one_line(world, monkeypatch, tmp_path, fake_server):
    monkeypatch.delenv(ANONYMOUS_ENV)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", federated_credentials(tmp_path, f"{fake_server.url}/token"))
    [problem] = world.run().problems
    assert problem.startswith("Google refused the credentials: ('Error code invalid_grant: Token has been expired or revoked.'")


def test_a_token_endpoint_that_never_answers_is_one_bounded_line(world, monkeypatch, tmp_path):
    silent = fake_google_apis.SilentServer()
    monkeypatch.delenv(ANONYMOUS_ENV)
    monkeypatch.setenv(TIMEOUT_ENV, "0.2")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", federated_credentials(tmp_path, f"{silent.url}/token"))
    try:
        started = time.monotonic()
        [problem] = world.run().problems
        assert time.monotonic() - started < 5
    finally:
        silent.close()
    assert problem.startswith("cannot get an access token from Google: ")


def test_a_bad_timeout_setting_is_one_line(world, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    assert world.run().problems == [f"{TIMEOUT_ENV}='soon' is not a number of seconds between 0 and 600; unset it or fix it"]


@pytest.mark.parametrize("args", [["no-such-environment"], [], ["{env}", "{env}"], ["{env}", "--identity", "admin"]])
def test_bad_usage(args, capsys, platform, env_name):
    assert tool.main([arg.replace("{env}", env_name) for arg in args]) == 2
    expected = f"usage: make preflight ENV=<{'|'.join(platform.environments)}> [IDENTITY=<deployer|planner>]"
    assert capsys.readouterr().err.strip() == expected


def test_the_command_line_runs_as_a_module(world):
    """`python -m tools.preflight` in a fresh interpreter, as CI runs it."""
    world.provision()
    result = subprocess.run(
        [sys.executable, "-m", "tools.preflight", world.env_name, "--identity", "planner"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"preflight: {world.env_name} is ready to deploy as the planner ({world.project})"


# --- what the real engine showed (README, The engine) -------------------------


def test_an_unseeded_app_state_is_named_with_make_seed_state(world):
    world.provision()
    state = world.gcs.client(world.project).bucket(world.environment.state_bucket)
    state.blob(f"{app_state_prefix(world.env_name)}/{STATE_OBJECT}").delete()
    assert world.run("planner").problems == [
        f"the app state gs://{state.name}/{app_state_prefix(world.env_name)}/{STATE_OBJECT} does not exist, so the planner's "
        f"`tofu init` would fail (it may not create it): an admin runs `make seed-state ENV={world.env_name}` once (README, Deploy from scratch)"
    ]


def test_a_bucket_elsewhere_than_configured_is_named_with_the_setting(world):
    """An adopted bucket in another location would be replaced by the bootstrap (location forces replacement)."""
    world.provision()
    environment, key = world.environment, next(iter(world.platform.data_buckets))
    data_bucket = data_bucket_names(world.platform, world.env_name)[key]
    world.fake.bucket_locations[environment.state_bucket] = "us"
    world.fake.bucket_locations[data_bucket] = "EUROPE-WEST1"
    configured_state = (environment.state_bucket_location or environment.region).upper()
    configured_data = (world.platform.data_buckets[key].location or environment.region).upper()
    assert world.run().problems == [
        f"state bucket gs://{environment.state_bucket} is in US, configuration says {configured_state}: a bucket cannot move, "
        f"so the bootstrap would replace it; set environments.{world.env_name}.state_bucket_location: US",
        f"{key} bucket gs://{data_bucket} is in EUROPE-WEST1, configuration says {configured_data}: a bucket cannot move, "
        f"so the bootstrap would replace it; set data_buckets.{key}.location: EUROPE-WEST1",
    ]


def test_a_held_state_lock_is_named_before_the_approval(world):
    """A lock left by a dead run would fail the apply after the approval."""
    world.provision()
    state = world.gcs.client(world.project).bucket(world.environment.state_bucket)
    lock = state.blob(f"{app_state_prefix(world.env_name)}/default.tflock")
    # OpenTofu's LockInfo (internal/states/statemgr/locker.go), as its gcs backend writes it.
    info = {
        "ID": "5b2f6b0e",
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "runner@fv-az123",
        "Version": "1.10.7",
        "Created": "2026-12-01T10:00:00Z",
        "Path": "gs://x",
    }
    lock.upload_from_string(json.dumps(info), if_generation_match=0)
    lock.reload()
    assert world.run("planner").problems == [
        f"the state of app-{world.env_name} is locked (gs://{state.name}/{lock.name}: who runner@fv-az123, operation OperationTypeApply, "
        f"created 2026-12-01T10:00:00Z): if that run is still going, wait for it; if it died, an admin runs "
        f"`tofu -chdir={world.outdir}/stacks/app-{world.env_name} force-unlock {lock.generation}`"
    ]


def test_help_prints_the_documentation(capsys, platform):
    assert tool.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: make preflight ENV=<{'|'.join(platform.environments)}> [IDENTITY=<deployer|planner>]\n")
    assert tool.__doc__ in out
