"""MindMirror's facts: the platform specification (shared/spec/platform.md,
outside this repository, so its tables are copied here) against the embedded
default configuration and its synthesis.

The one test module that checks MindMirror's projects, services and values.
It checks what the specification says, not that nothing else exists: adding a
service or an environment to the configuration keeps it green.
"""

from __future__ import annotations

import pytest

from platform_config.naming import data_bucket_name

from .tfjson import resources

# "Environments" (platform.md).
ENVIRONMENTS = {
    "staging": {
        "project_id": "mindmirror-69",
        "region": "us-east4",
        "registry_repository": "mindmirror",
        "state_bucket": "mindmirror-tofu-state-staging",
        "deployer_account_id": "github-actions-staging",
        "deploy_branch": "staging",
    },
    "production": {
        "project_id": "mindmirror-prod",
        "region": "us-east4",
        "registry_repository": "mindmirror",
        "state_bucket": "mindmirror-tofu-state",
        "deployer_account_id": "github-actions-production",
        "deploy_branch": "main",
    },
}
POOL, PROVIDER = "github-pool", "github-oidc"
APP_REPOSITORY = "Peleke/MindMirror"

# "What already exists": made by hand, so adopted, per environment.
ADOPTED = {
    "staging": {"deployer", "workload_identity_pool", "workload_identity_provider", "registry", "state_bucket"},
    "production": {"deployer", "workload_identity_pool", "workload_identity_provider"},
}
EXISTING_URL_SECRETS = ["AGENT_SERVICE_URL", "JOURNAL_SERVICE_URL", "HABITS_SERVICE_URL", "MEALS_SERVICE_URL"]
OPERATOR_SECRETS = {
    "DATABASE_URL",
    "REDIS_URL",
    "SUPABASE_URL",
    "SUPABASE_ANON_KEY",
    "SUPABASE_JWT_SECRET",
    "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_CA_CERT_PATH",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "OPENAI_API_KEY",
    "REINDEX_SECRET_KEY",
    "VOUCHERS_WEB_BASE_URL",
}
APIS = {
    "run",
    "artifactregistry",
    "secretmanager",
    "storage",
    "iam",
    "iamcredentials",
    "sts",
    "cloudresourcemanager",
    "serviceusage",
    "compute",
    "pubsub",
    "vpcaccess",
}

# "Services (Cloud Run)": name -> (image, port); all public.
SERVICES = {
    "agent-service": ("agent_service", 8000),
    "journal-service": ("journal_service", 8000),
    "habits-service": ("habits_service", 8003),
    "meals-service": ("meals_service", 8000),
    "movements-service": ("movements_service", 8000),
    "practices-service": ("practices_service", 8000),
    "users-service": ("users_service", 8000),
    "gateway": ("mesh", 4000),
}
CALLS = {
    "journal-service": {"agent-service", "users-service"},
    "practices-service": {"users-service"},
    "users-service": {"agent-service", "journal-service", "habits-service", "meals-service", "movements-service"},
    "gateway": set(SERVICES) - {"gateway"},
}
# The traditions bucket, `traditions-<project>-<environment>`, and who uses it how.
TRADITIONS_ACCESS = {"agent-service": "objectAdmin", "journal-service": "objectViewer"}


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_environments_are_the_specified_projects(platform, env_name):
    environment = platform.environments[env_name]
    assert {field: getattr(environment, field) for field in ENVIRONMENTS[env_name]} == ENVIRONMENTS[env_name]
    assert (environment.workload_identity.pool_id, environment.workload_identity.provider_id) == (POOL, PROVIDER)
    assert {a.value for a in environment.adopt} == ADOPTED[env_name]
    assert set(environment.adopt_secrets) == {*EXISTING_URL_SECRETS, f"service-urls-{env_name}"}


def test_the_platform_lists(platform):
    assert set(ENVIRONMENTS) <= set(platform.environments)
    assert platform.github.app_repository == APP_REPOSITORY
    assert OPERATOR_SECRETS <= set(platform.operator_secrets)
    assert APIS <= {api.removesuffix(".googleapis.com") for api in platform.apis}


def test_the_services(platform):
    configured = {s.name: s for s in platform.services}
    assert {name: (configured[name].image, configured[name].port) for name in SERVICES if name in configured} == SERVICES
    assert all(configured[name].public for name in SERVICES)
    for name, called in CALLS.items():
        assert called <= set(configured[name].calls), name
    defaults = platform.service_defaults
    assert (defaults.min_instances, defaults.concurrency, defaults.cpu, defaults.memory) == (1, 20, "1", "512Mi")
    assert (configured["practices-service"].health_path, configured["gateway"].health_path) == ("/health", "/healthcheck")


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_the_traditions_bucket(platform, stacks, env_name):
    project = ENVIRONMENTS[env_name]["project_id"]
    assert data_bucket_name(platform, env_name, "traditions") == f"traditions-{project}-{env_name}"
    [bucket] = [b for b in resources(stacks[f"bootstrap-{env_name}"], "google_storage_bucket").values() if b["name"] == f"traditions-{project}-{env_name}"]
    assert bucket["uniform_bucket_level_access"] is True and bucket["force_destroy"] is False
    assert {name: platform.service(name).bucket_access.get("traditions") for name in TRADITIONS_ACCESS} == TRADITIONS_ACCESS


def test_plain_values_follow_the_spec(stacks):
    def env_of(stack: str, service: str) -> dict[str, str]:
        [body] = [b for b in resources(stacks[stack], "google_cloud_run_v2_service").values() if b["name"] == service]
        return {e["name"]: e.get("value") for e in body["template"]["containers"][0]["env"]}

    production, staging = env_of("app-production", "agent-service"), env_of("app-staging", "agent-service")
    assert production["LOG_LEVEL"] == "INFO" and staging["LOG_LEVEL"] == "DEBUG"
    assert production["DEBUG"] == "false" and staging["DEBUG"] == "true"
    assert production["GCS_BUCKET_NAME"] == "traditions-mindmirror-prod-production"
    assert staging["GCS_BUCKET_NAME"] == "traditions-mindmirror-69-staging"
    movements = env_of("app-production", "movements-service")
    assert movements["DB_POOL_SIZE"] == "10" and "DB_POOL_PRE_PING" not in movements


def test_practices_health_probes(stacks):
    for env_name in ENVIRONMENTS:
        [body] = [b for b in resources(stacks[f"app-{env_name}"], "google_cloud_run_v2_service").values() if b["name"] == "practices-service"]
        container = body["template"]["containers"][0]
        startup = {
            "http_get": {"path": "/health", "port": 8000},
            "initial_delay_seconds": 10,
            "timeout_seconds": 3,
            "period_seconds": 10,
            "failure_threshold": 3,
        }
        assert container["startup_probe"] == startup
        assert container["liveness_probe"] == startup | {"initial_delay_seconds": 30, "period_seconds": 30}


def test_production_is_protected_from_deletion(stacks):
    def protected(env_name: str) -> list[bool]:
        return [b["deletion_protection"] for b in resources(stacks[f"app-{env_name}"], "google_cloud_run_v2_service").values()]

    assert all(protected("production")) and not any(protected("staging"))
