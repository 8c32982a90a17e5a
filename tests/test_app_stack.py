"""Safety and wiring rules of the app stacks."""

from __future__ import annotations

import json

import pytest

from platform_config import ConfigError, parse_platform
from platform_config.patterns import CREDENTIAL_NAME
from stacks.layout_move import cdktf_logical_id, moved_addresses

from .conftest import ROOT
from .engine import engine_env
from .engine import run as engine_run
from .tfjson import data_sources, find_cycle, only, resources


@pytest.fixture
def stack(stacks, env_name) -> dict:
    return stacks[f"app-{env_name}"]


def cloud_run(stack: dict) -> dict[str, dict]:
    """Service name -> google_cloud_run_v2_service body."""
    return {body["name"]: body for body in resources(stack, "google_cloud_run_v2_service").values()}


def env_of(service: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in service["template"]["containers"][0]["env"]}


def runtime_member(name: str, env_name: str, project: str) -> str:
    """A service's runtime account, named across the stack boundary (the bootstrap creates it)."""
    return f"serviceAccount:{name}-{env_name}@{project}.iam.gserviceaccount.com"


def test_backend_is_the_bootstrap_bucket_of_the_same_environment(stacks, env_name, environment):
    backend = stacks[f"app-{env_name}"]["terraform"]["backend"]
    buckets = {b["name"] for b in resources(stacks[f"bootstrap-{env_name}"], "google_storage_bucket").values()}
    assert backend == {"gcs": {"bucket": environment.state_bucket, "prefix": f"app/{env_name}"}}
    assert environment.state_bucket in buckets


def test_no_reference_to_the_bootstrap_stack(stack):
    assert "terraform_remote_state" not in stack.get("data", {})


def test_every_configured_service_is_deployed(stack, platform):
    assert set(cloud_run(stack)) == {s.name for s in platform.services}


def test_every_service_runs_as_its_own_identity(stacks, stack, env_name, environment):
    """Named, not created here: the admin-applied bootstrap creates each account."""
    bootstrap_accounts = {a["account_id"] for a in resources(stacks[f"bootstrap-{env_name}"], "google_service_account").values()}
    used = {name: body["template"]["service_account"] for name, body in cloud_run(stack).items()}
    assert len(set(used.values())) == len(used), "two services share a runtime identity"
    for name, email in used.items():
        assert f"serviceAccount:{email}" == runtime_member(name, env_name, environment.project_id)
        assert email.split("@")[0] in bootstrap_accounts
    assert "google_service_account" not in stack["resource"]


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


def test_a_plan_before_the_bootstrap_names_the_missing_identities(stack, platform, env_name):
    """Every service waits for the check that its runtime account exists."""
    [check_name] = data_sources(stack, "google_service_accounts")
    [postcondition] = data_sources(stack, "google_service_accounts")[check_name]["lifecycle"]["postcondition"]
    for service in platform.services:
        assert f'"{service.name}-{env_name}"' in postcondition["condition"]
    assert postcondition["error_message"].startswith("runtime identity missing for ${join(")
    assert f"apply bootstrap-{env_name} first, as an admin, from the change that adds the service and BEFORE it is merged" in postcondition["error_message"]
    for name, service in cloud_run(stack).items():
        assert f"data.google_service_accounts.{check_name}" in service["depends_on"], name


def test_images_come_from_the_registry_by_the_digest_the_plan_read(stack, platform, environment):
    """A tag input per image; the service runs the digest of that tag read at
    plan time (the data source's self_link), so a saved plan deploys exactly
    the image it was reviewed with."""
    variables = stack["variable"]
    checks = data_sources(stack, "google_artifact_registry_docker_image")
    for service in platform.services:
        image = cloud_run(stack)[service.name]["template"]["containers"][0]["image"]
        [check] = [name for name, body in checks.items() if body["image_name"] == f"{service.image}:${{var.image_tag_{service.image}}}"]
        # Unless a plan names the image unbuilt (a service the change adds): by tag, unread.
        unbuilt = f'contains(var.plan_unbuilt_images, "{service.image}")'
        registry = f"{environment.region}-docker.pkg.dev/{environment.project_id}/{environment.registry_repository}"
        assert image == (
            f'${{{unbuilt} ? "{registry}/{service.image}:${{var.image_tag_{service.image}}}" '
            f": one(data.google_artifact_registry_docker_image.{check}[*].self_link)}}"
        )
        assert checks[check]["count"] == f"${{{unbuilt} ? 0 : 1}}"
        tag = variables[f"image_tag_{service.image}"]
        assert "default" not in tag, "a plan without tags must fail"
        assert tag["nullable"] is False
        assert tag["validation"][0]["error_message"].startswith(f"image_tag_{service.image} must be")
    assert variables["plan_unbuilt_images"]["default"] == [], "a deploy reads every image"


def test_plan_fails_early_on_missing_registry_or_image(stack, platform, environment, env_name):
    check = only({"resource": stack["data"]}, "google_artifact_registry_repositories")
    [postcondition] = check["lifecycle"]["postcondition"]
    assert f'"{environment.registry_repository}"' in postcondition["condition"]
    assert f"apply bootstrap-{env_name} first" in postcondition["error_message"]
    images = data_sources(stack, "google_artifact_registry_docker_image")
    assert sorted(i["image_name"] for i in images.values()) == sorted(f"{s.image}:${{var.image_tag_{s.image}}}" for s in platform.services)


def test_service_settings_follow_configuration(stack, platform, environment):
    defaults = platform.service_defaults
    for service in platform.services:
        body = cloud_run(stack)[service.name]
        template = body["template"]
        container = template["containers"][0]
        assert container["ports"]["container_port"] == service.port
        assert container["resources"]["limits"] == {"cpu": service.cpu or defaults.cpu, "memory": service.memory or defaults.memory}
        assert template["scaling"]["min_instance_count"] == (defaults.min_instances if service.min_instances is None else service.min_instances)
        assert template["scaling"]["max_instance_count"] == (service.max_instances or defaults.max_instances)
        assert container["resources"]["cpu_idle"] is (defaults.cpu_idle if service.cpu_idle is None else service.cpu_idle)
        assert template["max_instance_request_concurrency"] == (service.concurrency or defaults.concurrency)
        assert template["timeout"] == f"{service.request_timeout_seconds or defaults.request_timeout_seconds}s"
        assert body["deletion_protection"] is environment.deletion_protection
        assert {"service", "environment", "managed-by"} <= set(body["labels"])


def test_health_probes_follow_configuration(stack, platform):
    for service in platform.services:
        container = cloud_run(stack)[service.name]["template"]["containers"][0]
        for kind in ("startup_probe", "liveness_probe"):
            probe = getattr(service, kind)
            if probe is None:
                assert kind not in container or "http_get" not in container[kind], (service.name, kind)
                continue
            expected = probe.model_dump(exclude={"path", "port"}) | {"http_get": {"path": probe.path, "port": probe.port}}
            assert container[kind] == expected, (service.name, kind)


def test_plain_env_values_are_the_configuration_rendered(stack, platform, env_name, environment):
    """env groups in order, then env; placeholders rendered for the
    environment as the README documents them (`{name}` and `{{`/`}}`, which is
    str.format_map's syntax: not the production renderer)."""
    builtin = {"env": env_name, "project": environment.project_id, "region": environment.region}
    buckets = {key: bucket.name.format_map(builtin) for key, bucket in platform.data_buckets.items()}
    values = {**builtin, **buckets, **environment.vars}
    for service in platform.services:
        configured = {k: v for group in service.env_groups for k, v in platform.env_groups[group].items()} | service.env
        plain = {name: entry["value"] for name, entry in env_of(cloud_run(stack)[service.name]).items() if "value" in entry and name in configured}
        assert plain == {name: template.format_map(values) for name, template in configured.items()}, service.name


def test_service_urls_are_wired_from_calls_without_references(stack, platform, environment):
    services = cloud_run(stack)
    for service in platform.services:
        env = env_of(services[service.name])
        for called in service.calls:
            url_name = platform.service(called).url_name
            assert env[url_name]["value"] == (f"https://{called}-${{data.google_project.project.number}}.{environment.region}.run.app")


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


def test_url_secret_versions_for_every_service(stack, platform, env_name, environment):
    """The versions only: the secrets are the bootstrap's, named by their resource name."""
    versions = {body["secret"]: body["secret_data"] for body in resources(stack, "google_secret_manager_secret_version").values()}
    url_names = [s.url_name for s in platform.services if s.url_name]
    name = f"projects/{environment.project_id}/secrets/{{}}".format
    assert set(versions) == {name(u) for u in url_names} | {name(f"service-urls-{env_name}")}
    services = {body["name"]: address for address, body in resources(stack, "google_cloud_run_v2_service").items()}
    for service in platform.services:
        if service.url_name:
            assert versions[name(service.url_name)] == f"${{google_cloud_run_v2_service.{services[service.name]}.uri}}"
            assert f'"{service.url_name.lower()}" = google_cloud_run_v2_service.{services[service.name]}.uri' in versions[name(f"service-urls-{env_name}")]
    assert "google_secret_manager_secret" not in stack["resource"]


def test_every_service_takes_traffic_from_the_internet(stack, platform):
    """Public services are reached from the internet, and private ones are
    called by the others through their public run.app URLs (no VPC), IAM
    deciding who may invoke: both need ingress ALL (Cloud Run Admin API v2,
    IngressTraffic: INGRESS_TRAFFIC_ALL, not INTERNAL_ONLY or
    INTERNAL_LOAD_BALANCER)."""
    services = resources(stack, "google_cloud_run_v2_service").values()
    assert len(services) == len(platform.services)
    assert {service["name"]: service["ingress"] for service in services} == {s.name: "INGRESS_TRAFFIC_ALL" for s in platform.services}


def test_public_services_are_invokable_by_all_users(stack, platform):
    invokers = resources(stack, "google_cloud_run_v2_service_iam_member").values()
    public = {s.name for s in platform.services if s.public and not s.invoker_iam_disabled}
    assert {i["name"] for i in invokers if i["member"] == "allUsers"} == {
        f"${{google_cloud_run_v2_service.{n}.name}}" for n, b in resources(stack, "google_cloud_run_v2_service").items() if b["name"] in public
    }
    assert all(i["role"] == "roles/run.invoker" for i in invokers)


def test_added_service_gets_everything_without_python_changes(variant, platform):
    stack = variant["app-production"]
    project = platform.environments["production"].project_id
    added = cloud_run(stack)["test-svc"]
    assert "one(data.google_artifact_registry_docker_image.image-check-test_svc[*].self_link)" in added["template"]["containers"][0]["image"]
    assert "image_tag_test_svc" in stack["variable"]
    assert added["template"]["service_account"] == f"test-svc-production@{project}.iam.gserviceaccount.com"
    assert "test-svc-production" in {a["account_id"] for a in resources(variant["bootstrap-production"], "google_service_account").values()}
    env = env_of(added)
    assert env["DATABASE_URL"]["value_source"]["secret_key_ref"]["secret"] == "DATABASE_URL"
    assert env["MEALS_SERVICE_URL"]["value"].startswith("https://meals-service-")
    assert "TEST_SVC_URL" in env_of(cloud_run(stack)["gateway"])
    assert "TEST_SVC_URL" in {b["secret_id"] for b in resources(variant["bootstrap-production"], "google_secret_manager_secret").values()}
    assert f"projects/{project}/secrets/TEST_SVC_URL" in {b["secret"] for b in resources(stack, "google_secret_manager_secret_version").values()}
    assert find_cycle(stack) is None


def test_private_service_is_invokable_only_by_its_callers(variant, platform):
    stack = variant["app-production"]
    services = resources(stack, "google_cloud_run_v2_service")
    meals = next(n for n, b in services.items() if b["name"] == "meals-service")
    invokers = [i for i in resources(stack, "google_cloud_run_v2_service_iam_member").values() if i["name"] == f"${{google_cloud_run_v2_service.{meals}.name}}"]
    callers = {s.name for s in platform.services if "meals-service" in s.calls} | {"test-svc"}
    assert {i["member"] for i in invokers} == {runtime_member(c, "production", platform.environments["production"].project_id) for c in callers}
    assert "allUsers" not in json.dumps(invokers)


# --- what a real plan would show (issue 13), over every service and environment ---


def test_max_instances_always_set_and_not_below_min(stacks, choices):
    """Provider 6.x: unset, every plan shows `100 -> null` (max_instance_count is not Computed)."""
    for tree in (stacks, choices):
        for name, stack in tree.items():
            for service, body in cloud_run(stack).items() if name.startswith("app-") else ():
                scaling = body["template"]["scaling"]
                assert isinstance(scaling.get("max_instance_count"), int), f"{name}: {service}"
                assert scaling["min_instance_count"] <= scaling["max_instance_count"], f"{name}: {service}"


def test_cpu_idle_is_explicit_and_follows_configuration(stacks, choices, platform):
    """With limits set and cpu_idle unset, Cloud Run allocates CPU always."""
    for env_name in platform.environments:
        for service, body in cloud_run(stacks[f"app-{env_name}"]).items():
            assert body["template"]["containers"][0]["resources"]["cpu_idle"] is platform.service_defaults.cpu_idle, service
        for service, body in cloud_run(choices[f"app-{env_name}"]).items():
            assert body["template"]["containers"][0]["resources"]["cpu_idle"] is (service != "meals-service"), service


def test_deletion_protection_waits_for_the_first_apply_and_ends_before_removal(choices, platform):
    """A failed first creation leaves a tainted service that must be replaceable;
    a service about to be removed must be destroyable."""
    services = cloud_run(choices["app-production"])
    for name, body in services.items():
        assert body["deletion_protection"] is (name not in ("users-service", "habits-service")), name
    assert not any(body["deletion_protection"] for body in cloud_run(choices["app-staging"]).values())


def test_existing_services_are_adopted_by_import(stacks, choices, platform):
    for tree in (stacks, choices):
        for env_name, environment in platform.environments.items():
            stack = tree[f"app-{env_name}"]
            imports = {e["id"]: e["to"] for e in stack.get("import", [])}
            adopted = set(environment.adopt_services) if tree is stacks else ({"agent-service"} if env_name == "production" else set())
            region, project = environment.region, environment.project_id
            assert set(imports) == {f"projects/{project}/locations/{region}/services/{name}" for name in adopted}
            for target in imports.values():
                kind, address = target.split(".")
                assert kind == "google_cloud_run_v2_service" and address in resources(stack, kind)


def test_public_without_all_users_when_the_invoker_check_is_off(stacks, choices, platform):
    """Domain-restricted sharing refuses allUsers: the service is public by its invoker check instead."""
    for env_name in platform.environments:
        for tree, disabled in ((stacks, {s.name for s in platform.services if s.invoker_iam_disabled}), (choices, {"gateway"})):
            stack = tree[f"app-{env_name}"]
            by_address = resources(stack, "google_cloud_run_v2_service")
            public_bindings = {
                by_address[i["name"].split(".")[1]]["name"]
                for i in resources(stack, "google_cloud_run_v2_service_iam_member").values()
                if i["member"] == "allUsers"
            }
            for name, body in cloud_run(stack).items():
                assert body["invoker_iam_disabled"] is (name in disabled), name
                assert (name in public_bindings) is (name not in disabled and platform.service(name).public), name


def test_layout_1_addresses_are_computed_as_cdktf_does(stacks):
    for stack in stacks.values():
        for resource_type, items in stack["resource"].items():
            for name, body in items.items():
                assert cdktf_logical_id(body["//"]["metadata"]["path"].split("/")[1:]) == name, f"{resource_type}.{name}"


def test_a_moved_layout_is_forgotten_here_not_destroyed(choices, stacks, platform):
    """move_to_bootstrap: every layout-1 address the app stack no longer holds
    gets a `removed` block with destroy = false; nothing else does. (The
    recorded layout 1 has the services configured then; the addresses of a
    service configured since are set aside.)"""
    layout_1 = json.loads((ROOT / "tests" / "fixtures" / "app_stack_layout_v1.json").read_text())["app-staging"]
    services_then = {a.split(".")[1].split("_")[0] for a in layout_1 if a.startswith("google_cloud_run_v2_service.")}
    platform_then = platform.model_copy(update={"services": [s for s in platform.services if s.name in services_then]})
    of_new_services = set(moved_addresses(platform)) - set(moved_addresses(platform_then))
    current = {f"{t}.{n}" for t, items in stacks["app-staging"]["resource"].items() for n in items}
    removed = {block["from"]: block for block in choices["app-staging"]["removed"]}
    assert set(removed) - of_new_services == set(layout_1) - current
    assert all(block["lifecycle"] == {"destroy": False} for block in removed.values())
    # The bootstrap holds them at the same address (the deployer's URL-secret
    # grants excepted: keyed by member now, re-created without effect).
    bootstrap = {f"{t}.{n}" for t, items in choices["bootstrap-staging"]["resource"].items() for n in items}
    assert {a for a in removed if "_reader-0_" not in a} <= bootstrap
    assert "removed" not in choices["app-production"] and "removed" not in stacks["app-staging"]


def test_every_condition_is_an_expression(stacks):
    """In Terraform JSON a bare `contains(...)` is a literal string: tofu refuses it."""
    conditions = [
        c["condition"]
        for stack in stacks.values()
        for body in [*stack.get("variable", {}).values(), *(b for items in stack.get("data", {}).values() for b in items.values())]
        for c in [*body.get("validation", []), *body.get("lifecycle", {}).get("postcondition", [])]
    ]
    assert conditions
    assert all(c.startswith("${") and c.endswith("}") for c in conditions), conditions


def test_image_tag_validation_runs_in_a_real_engine(stack, tmp_path):
    """The tag inputs of the stack, alone with a built-in resource, planned by
    the project's OpenTofu: a good tag plans, a bad one fails with our message."""
    strings = [name for name, body in stack["variable"].items() if body["type"] == "string"]
    (tmp_path / "main.tf.json").write_text(
        json.dumps({"variable": stack["variable"], "resource": {"terraform_data": {"tags": {"input": [f"${{var.{v}}}" for v in strings]}}}})
    )
    env = engine_env(tmp_path, "http://127.0.0.1:9/storage/v1/", "unused")
    assert engine_run(tmp_path, env, "init", "-input=false", "-no-color").returncode == 0
    good = [f"-var={v}=v1.0.0-22403cf" for v in strings]
    assert engine_run(tmp_path, env, "plan", "-input=false", "-no-color", *good).returncode == 0
    first = strings[0]
    bad = engine_run(tmp_path, env, "plan", "-input=false", "-no-color", *good, f"-var={first}=not a tag")
    assert bad.returncode != 0 and f"{first} must be a Docker image tag" in " ".join(bad.stderr.split())


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["environments"]["production"].update(adopt_services=["agent"]),
            "environments.production.adopt_services: 'agent' is not a configured service",
        ),
        (
            lambda c: c["environments"]["staging"].update(adopt_runtime_accounts=["nobody"]),
            "environments.staging.adopt_runtime_accounts: 'nobody' is not a configured service",
        ),
        (
            lambda c: c["environments"]["production"].update(retiring_services=["gone-service"]),
            "environments.production.retiring_services: 'gone-service' is not a configured service",
        ),
        (
            lambda c: next(s for s in c["services"] if s["name"] == "meals-service").update(public=False, invoker_iam_disabled=True),
            "services[meals-service].invoker_iam_disabled: would make a private service public",
        ),
        (
            lambda c: c["service_defaults"].update(max_instances=0),
            "service_defaults.max_instances: Input should be greater than or equal to 1",
        ),
    ],
)
def test_configuration_refuses_bad_choices(config_copy, change, message):
    change(config_copy)
    with pytest.raises(ConfigError) as caught:
        parse_platform(config_copy, source="config/platform.yaml")
    assert any(problem.startswith(f"config/platform.yaml: {message}") for problem in caught.value.problems), caught.value.problems
