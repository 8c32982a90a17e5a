"""Safety and wiring rules of the app stacks."""

from __future__ import annotations

import json
import re

import pytest

from platform_config.model import CREDENTIAL_NAME

from .tfjson import data_sources, find_cycle, only, resources


@pytest.fixture
def stack(stacks, env_name) -> dict:
    return stacks[f"app-{env_name}"]


@pytest.fixture
def deployer(environment) -> str:
    """The bootstrap's deployer, named (not referenced) across the stack boundary."""
    return f"serviceAccount:{environment.deployer_account_id}@{environment.project_id}.iam.gserviceaccount.com"


def cloud_run(stack: dict) -> dict[str, dict]:
    """Service name -> google_cloud_run_v2_service body."""
    return {body["name"]: body for body in resources(stack, "google_cloud_run_v2_service").values()}


def env_of(service: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in service["template"]["containers"][0]["env"]}


def account_address(service: dict) -> str:
    match = re.fullmatch(r"\$\{(google_service_account\.[^.]+)\.email\}", service["template"]["service_account"])
    assert match, f"{service['name']} does not run as a managed service account"
    return match.group(1)


def test_backend_is_the_bootstrap_bucket_of_the_same_environment(stacks, env_name, environment):
    backend = stacks[f"app-{env_name}"]["terraform"]["backend"]
    bootstrap_bucket = only(stacks[f"bootstrap-{env_name}"], "google_storage_bucket")["name"]
    assert backend == {"gcs": {"bucket": bootstrap_bucket, "prefix": f"app/{env_name}"}}
    assert bootstrap_bucket == environment.state_bucket


def test_no_reference_to_the_bootstrap_stack(stack):
    assert "terraform_remote_state" not in stack.get("data", {})


def test_every_configured_service_is_deployed(stack, platform):
    assert set(cloud_run(stack)) == {s.name for s in platform.services}


def test_every_service_runs_as_its_own_identity(stack, env_name):
    services = cloud_run(stack)
    accounts = resources(stack, "google_service_account")
    used = {name: account_address(body) for name, body in services.items()}
    assert len(set(used.values())) == len(services), "two services share a runtime identity"
    for name, address in used.items():
        assert accounts[address.split(".")[1]]["account_id"] == f"{name}-{env_name}"


def test_no_secret_as_a_plain_env_value(stack, platform):
    declared = set(platform.operator_secrets)
    for name, service in cloud_run(stack).items():
        for entry in env_of(service).values():
            if "value" in entry:
                assert entry["name"] not in declared, f"{name} has secret {entry['name']} as a plain value"
                assert not CREDENTIAL_NAME.search(entry["name"]), f"{name}.{entry['name']} looks like a credential"
            else:
                ref = entry["value_source"]["secret_key_ref"]
                assert ref["secret"] in declared and ref["version"] == "latest"


def test_no_secret_payload_is_read_into_state(stacks):
    for stack in stacks.values():
        assert "google_secret_manager_secret_version" not in stack.get("data", {})
        assert "google_secret_manager_secret_version_access" not in stack.get("data", {})


def test_services_read_exactly_the_secrets_they_use(stack, platform):
    services = cloud_run(stack)
    grants = resources(stack, "google_secret_manager_secret_iam_member").values()
    assert all(g["role"] == "roles/secretmanager.secretAccessor" for g in grants)
    for service in platform.services:
        member = f"serviceAccount:${{{account_address(services[service.name])}.email}}"
        granted = {g["secret_id"] for g in grants if g["member"] == member}
        assert granted == set(service.secrets.values()), service.name
    assert not any("secretmanager" in g["role"] for g in resources(stack, "google_project_iam_member").values())


def test_services_wait_for_their_secret_access_and_the_deployers_act_as(stack):
    for name, service in cloud_run(stack).items():
        depends_on = service.get("depends_on", [])
        secret_grants = {d for d in depends_on if d.startswith("google_secret_manager_secret_iam_member.")}
        secrets = {e["value_source"]["secret_key_ref"]["secret"] for e in env_of(service).values() if "value_source" in e}
        assert len(secret_grants) == len(secrets), name
        [acts_as] = [d for d in depends_on if d.startswith("google_service_account_iam_member.")]
        assert resources(stack, "google_service_account_iam_member")[acts_as.split(".")[1]]["role"] == "roles/iam.serviceAccountUser"


def test_images_come_from_the_registry_with_a_tag_input(stack, platform, environment):
    prefix = f"{environment.region}-docker.pkg.dev/{environment.project_id}/{environment.registry_repository}"
    variables = stack["variable"]
    for service in platform.services:
        image = cloud_run(stack)[service.name]["template"]["containers"][0]["image"]
        assert image == f"{prefix}/{service.image}:${{var.image_tag_{service.image}}}"
        tag = variables[f"image_tag_{service.image}"]
        assert "default" not in tag, "a plan without tags must fail"
        assert tag["nullable"] is False
        assert tag["validation"][0]["error_message"].startswith(f"image_tag_{service.image} must be")


def test_plan_fails_early_on_missing_registry_or_image(stack, platform, environment, env_name):
    check = only({"resource": stack["data"]}, "google_artifact_registry_repositories")
    [postcondition] = check["lifecycle"]["postcondition"]
    assert f'"{environment.registry_repository}"' in postcondition["condition"]
    assert f"apply bootstrap-{env_name} first" in postcondition["error_message"]
    images = data_sources(stack, "google_artifact_registry_docker_image")
    assert sorted(i["image_name"] for i in images.values()) == sorted(
        f"{s.image}:${{var.image_tag_{s.image}}}" for s in platform.services
    )


def test_service_settings_follow_configuration(stack, platform, environment):
    defaults = platform.service_defaults
    for service in platform.services:
        body = cloud_run(stack)[service.name]
        template = body["template"]
        container = template["containers"][0]
        assert container["ports"]["container_port"] == service.port
        assert container["resources"]["limits"] == {"cpu": service.cpu or defaults.cpu, "memory": service.memory or defaults.memory}
        assert template["scaling"]["min_instance_count"] == defaults.min_instances
        assert template["scaling"].get("max_instance_count") == service.max_instances
        assert template["max_instance_request_concurrency"] == defaults.concurrency
        assert template["timeout"] == f"{service.request_timeout_seconds or defaults.request_timeout_seconds}s"
        assert body["deletion_protection"] is environment.deletion_protection
        assert {"service", "environment", "managed-by"} <= set(body["labels"])


def test_practices_health_probes(stack):
    container = cloud_run(stack)["practices-service"]["template"]["containers"][0]
    assert container["startup_probe"] == {
        "http_get": {"path": "/health", "port": 8000},
        "initial_delay_seconds": 10,
        "timeout_seconds": 3,
        "period_seconds": 10,
        "failure_threshold": 3,
    }
    assert container["liveness_probe"]["period_seconds"] == 30
    assert container["liveness_probe"]["initial_delay_seconds"] == 30


def test_production_is_protected_from_deletion(stacks):
    assert all(s["deletion_protection"] for s in cloud_run(stacks["app-production"]).values())
    assert not any(s["deletion_protection"] for s in cloud_run(stacks["app-staging"]).values())


def test_plain_values_follow_the_spec(stacks):
    production = env_of(cloud_run(stacks["app-production"])["agent-service"])
    staging = env_of(cloud_run(stacks["app-staging"])["agent-service"])
    assert production["LOG_LEVEL"]["value"] == "INFO" and staging["LOG_LEVEL"]["value"] == "DEBUG"
    assert production["DEBUG"]["value"] == "false" and staging["DEBUG"]["value"] == "true"
    assert production["GCS_BUCKET_NAME"]["value"] == "traditions-mindmirror-prod-production"
    movements = env_of(cloud_run(stacks["app-production"])["movements-service"])
    assert "DB_POOL_SIZE" in movements and "DB_POOL_PRE_PING" not in movements


def test_service_urls_are_wired_from_calls_without_references(stack, platform, environment):
    services = cloud_run(stack)
    for service in platform.services:
        env = env_of(services[service.name])
        for called in service.calls:
            url_name = platform.service(called).url_name
            assert env[url_name]["value"] == (
                f"https://{called}-${{data.google_project.project.number}}.{environment.region}.run.app"
            )


def test_gateway_has_every_service_url(stack, platform):
    env = env_of(cloud_run(stack)["gateway"])
    assert {s.url_name for s in platform.services if s.url_name} <= set(env)


def test_no_dependency_cycle(stack):
    assert find_cycle(stack) is None


def test_cycle_detection_finds_a_cycle():
    stack = {
        "resource": {
            "google_a": {"x": {"v": "${google_b.y.id}"}},
            "google_b": {"y": {"depends_on": ["google_a.x"]}},
        }
    }
    assert find_cycle(stack) == ["google_a.x", "google_b.y", "google_a.x"]


def test_url_secret_for_every_service(stack, platform, env_name):
    secrets = {body["secret_id"]: name for name, body in resources(stack, "google_secret_manager_secret").items()}
    url_names = [s.url_name for s in platform.services if s.url_name]
    assert set(secrets) == set(url_names) | {f"service-urls-{env_name}"}
    versions = {body["secret"]: body["secret_data"] for body in resources(stack, "google_secret_manager_secret_version").values()}
    services = {body["name"]: name for name, body in resources(stack, "google_cloud_run_v2_service").items()}
    for service in platform.services:
        if service.url_name:
            data = versions[f"${{google_secret_manager_secret.{secrets[service.url_name]}.id}}"]
            assert data == f"${{google_cloud_run_v2_service.{services[service.name]}.uri}}"
    all_urls = versions[f"${{google_secret_manager_secret.{secrets[f'service-urls-{env_name}']}.id}}"]
    for service in platform.services:
        if service.url_name:
            assert f'"{service.url_name.lower()}" = google_cloud_run_v2_service.{services[service.name]}.uri' in all_urls


def test_existing_url_secrets_are_adopted_and_new_ones_created(stack, environment):
    imported = {entry["id"].rsplit("/", 1)[1] for entry in stack["import"] if entry["to"].startswith("google_secret_manager_secret.")}
    assert imported == set(environment.adopt_secrets)
    assert {"MOVEMENTS_SERVICE_URL", "PRACTICES_SERVICE_URL", "USERS_SERVICE_URL"}.isdisjoint(imported)
    for entry in stack["import"]:
        assert entry["id"].startswith(f"projects/{environment.project_id}/secrets/")


def test_public_services_are_invokable_by_all_users(stack, platform):
    invokers = resources(stack, "google_cloud_run_v2_service_iam_member").values()
    public = {s.name for s in platform.services if s.public}
    assert {i["name"] for i in invokers if i["member"] == "allUsers"} == {
        f"${{google_cloud_run_v2_service.{n}.name}}" for n, b in resources(stack, "google_cloud_run_v2_service").items() if b["name"] in public
    }
    assert all(i["role"] == "roles/run.invoker" for i in invokers)


def test_traditions_bucket(stack, environment, env_name):
    bucket = only(stack, "google_storage_bucket")
    assert bucket["name"] == f"traditions-{environment.project_id}-{env_name}"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["force_destroy"] is False
    assert bucket["public_access_prevention"] == "enforced"
    grants = {g["role"]: g["member"] for g in resources(stack, "google_storage_bucket_iam_member").values()}
    services = cloud_run(stack)
    assert grants == {
        "roles/storage.objectAdmin": f"serviceAccount:${{{account_address(services['agent-service'])}.email}}",
        "roles/storage.objectViewer": f"serviceAccount:${{{account_address(services['journal-service'])}.email}}",
    }


def test_deployer_acts_only_as_the_runtime_accounts(stack, deployer):
    bindings = resources(stack, "google_service_account_iam_member").values()
    assert {b["member"] for b in bindings} == {deployer}
    assert {b["role"] for b in bindings} == {"roles/iam.serviceAccountUser"}
    assert len(bindings) == len(resources(stack, "google_service_account"))
    assert "google_project_iam_member" not in stack.get("resource", {})


def test_added_service_gets_everything_without_python_changes(variant):
    stack = variant["app-production"]
    coach = cloud_run(stack)["coach-service"]
    assert coach["template"]["containers"][0]["image"].endswith("/coach_service:${var.image_tag_coach_service}")
    assert "image_tag_coach_service" in stack["variable"]
    assert resources(stack, "google_service_account")[account_address(coach).split(".")[1]]["account_id"] == "coach-service-production"
    env = env_of(coach)
    assert env["DATABASE_URL"]["value_source"]["secret_key_ref"]["secret"] == "DATABASE_URL"
    assert env["MEALS_SERVICE_URL"]["value"].startswith("https://meals-service-")
    assert "COACH_SERVICE_URL" in env_of(cloud_run(stack)["gateway"])
    assert "COACH_SERVICE_URL" in {b["secret_id"] for b in resources(stack, "google_secret_manager_secret").values()}
    assert find_cycle(stack) is None


def test_private_service_is_invokable_only_by_its_callers(variant, platform):
    stack = variant["app-production"]
    services = resources(stack, "google_cloud_run_v2_service")
    meals = next(n for n, b in services.items() if b["name"] == "meals-service")
    invokers = [i for i in resources(stack, "google_cloud_run_v2_service_iam_member").values() if i["name"] == f"${{google_cloud_run_v2_service.{meals}.name}}"]
    callers = {"users-service", "coach-service", "gateway"}
    assert {i["member"] for i in invokers} == {
        f"serviceAccount:${{{account_address(cloud_run(stack)[c])}.email}}" for c in callers
    }
    assert "allUsers" not in json.dumps(invokers)


def test_deployer_reads_only_the_url_secrets(stack, deployer):
    """The provider reads a secret version back after writing it and on every
    refresh; the deployer may do so on the secrets this stack writes, only."""
    grants = [g for g in resources(stack, "google_secret_manager_secret_iam_member").values() if g["member"] == deployer]
    url_secrets = {f"${{google_secret_manager_secret.{name}.secret_id}}" for name in resources(stack, "google_secret_manager_secret")}
    assert {g["secret_id"] for g in grants} == url_secrets
    assert {g["role"] for g in grants} == {"roles/secretmanager.secretAccessor"}
    for version in resources(stack, "google_secret_manager_secret_version").values():
        assert any(d.startswith("google_secret_manager_secret_iam_member.") for d in version["depends_on"])
