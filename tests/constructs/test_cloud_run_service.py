from constructs_lib.cloud_run_service import ROLLOUT_ANNOTATION, CloudRunService, ContainerSpec
from platform_config.model import Probe

from ..tfjson import only, resources
from .bare_stack import PROJECT, REGION, bare_stack, imports, synth

EMAIL = f"api-test@{PROJECT}.iam.gserviceaccount.com"
PROBE = Probe(path="/health", port=8080, initial_delay_seconds=1, timeout_seconds=2, period_seconds=3, failure_threshold=4)
SPEC = ContainerSpec(
    image="europe-west1-docker.pkg.dev/my-project/images/api:v1",
    port=8080,
    cpu="1",
    memory="512Mi",
    min_instances=0,
    max_instances=3,
    concurrency=80,
    request_timeout_seconds=300,
    cpu_idle=True,
    env={"B_PLAIN": "b", "A_PLAIN": "a"},
    secret_env={"DATABASE_URL": "DATABASE_URL"},
    startup_probe=PROBE,
)


def build(stack, id: str = "api", **overrides) -> CloudRunService:
    kwargs = dict(project=PROJECT, region=REGION, name=id, service_account_email=EMAIL, container=SPEC, labels={"service": id}, deletion_protection=True)
    return CloudRunService(stack, id, **{**kwargs, **overrides})


def service_of(**overrides) -> dict:
    stack = bare_stack()
    build(stack, **overrides)
    return only(synth(stack), "google_cloud_run_v2_service")


def test_runs_as_its_own_account_with_the_container_spec():
    service = service_of()
    template = service["template"]
    assert template["service_account"] == EMAIL
    assert template["scaling"] == {"min_instance_count": 0, "max_instance_count": 3}
    assert template["timeout"] == "300s" and template["max_instance_request_concurrency"] == 80
    (container,) = template["containers"]
    assert container["image"] == SPEC.image
    assert container["resources"] == {"limits": {"cpu": "1", "memory": "512Mi"}, "cpu_idle": True}
    assert container["startup_probe"]["http_get"] == {"path": "/health", "port": 8080}
    assert "liveness_probe" not in container
    assert service["deletion_protection"] is True


def test_secrets_are_references_never_values_and_env_is_sorted():
    (container,) = service_of()["template"]["containers"]
    assert [e["name"] for e in container["env"]] == ["A_PLAIN", "B_PLAIN", "DATABASE_URL"]
    secret = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
    assert "value" not in secret
    assert secret["value_source"]["secret_key_ref"] == {"secret": "DATABASE_URL", "version": "latest"}


def test_rollout_is_an_annotation_only_when_given():
    assert service_of(rollout="r1")["template"]["annotations"] == {ROLLOUT_ANNOTATION: "r1"}
    assert "annotations" not in service_of()["template"]


def test_invoker_grants_keyed_by_caller_id_on_this_service():
    stack = bare_stack()
    api = build(stack)
    caller = build(stack, "caller", service_account_email=f"caller@{PROJECT}.iam.gserviceaccount.com")
    api.grant_invoker("invoker-caller", member=caller.member)
    out = synth(stack)
    grant = only(out, "google_cloud_run_v2_service_iam_member")
    assert grant["role"] == "roles/run.invoker"
    assert grant["member"] == f"serviceAccount:caller@{PROJECT}.iam.gserviceaccount.com"
    api_address = next(a for a, s in resources(out, "google_cloud_run_v2_service").items() if s["name"] == "api")
    assert grant["name"] == f"${{google_cloud_run_v2_service.{api_address}.name}}"
    assert next(iter(resources(out, "google_cloud_run_v2_service_iam_member"))).startswith("api_invoker-caller_")


def test_adoption_imports_with_the_documented_id():
    stack = bare_stack()
    build(stack, exists=True)
    out = synth(stack)
    (address,) = resources(out, "google_cloud_run_v2_service")
    assert imports(out) == {f"google_cloud_run_v2_service.{address}": f"projects/{PROJECT}/locations/{REGION}/services/api"}


def test_service_level_scaling_is_left_to_google():
    """Provider 6.50.0 reads back a service-level `scaling` block the config
    does not set (Optional, not Computed): without ignore_changes every plan
    shows a change (README, The engine). Instance counts live in the template."""
    assert service_of()["lifecycle"]["ignore_changes"] == ["scaling"]
    assert "scaling" not in service_of()
