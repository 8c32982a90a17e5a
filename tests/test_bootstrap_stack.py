"""Safety rules of the bootstrap stacks, each stated once so a regression names itself."""

from __future__ import annotations

import pytest

from .tfjson import address_of, only, references, resources, strings


@pytest.fixture
def stack(stacks, env_name) -> dict:
    return stacks[f"bootstrap-{env_name}"]


def test_local_backend_with_relative_path(stack):
    assert stack["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}


def test_no_absolute_path_in_synthesized_json(stacks):
    for name, stack in stacks.items():
        absolute = [s for s in strings(stack) if s.startswith(("/tmp", "/root", "/home", "/work", "/Users"))]
        assert not absolute, f"{name} holds machine paths: {absolute}"


def test_every_api_enabled_and_kept_on_destroy(stack, platform):
    services = resources(stack, "google_project_service").values()
    assert sorted(s["service"] for s in services) == sorted(platform.apis)
    assert all(s["disable_on_destroy"] is False for s in services)


def test_registry_is_docker_with_cleanup(stack, environment, platform):
    registry = only(stack, "google_artifact_registry_repository")
    assert registry["format"] == "DOCKER"
    assert registry["repository_id"] == environment.registry_repository
    assert registry["location"] == environment.region
    assert registry["cleanup_policy_dry_run"] is False
    policies = {p["action"]: p for p in registry["cleanup_policies"]}
    assert policies["KEEP"]["most_recent_versions"]["keep_count"] == platform.registry_cleanup.keep_recent_versions
    delete = policies["DELETE"]["condition"]
    assert delete["tag_state"] == "UNTAGGED"
    assert delete["older_than"] == f"{platform.registry_cleanup.delete_untagged_after_days * 86400}s"


def test_state_bucket_is_hardened(stack, environment, platform, env_name):
    bucket = only(stack, "google_storage_bucket")
    assert bucket["name"] == environment.state_bucket
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["force_destroy"] is False
    assert bucket["lifecycle"]["prevent_destroy"] is True
    retention = platform.bucket_retention
    assert bucket["soft_delete_policy"] == {"retention_duration_seconds": retention.soft_delete_retention_days * 86400}
    conditions = [rule["condition"] for rule in bucket["lifecycle_rule"] if rule["action"]["type"] == "Delete"]
    assert {"num_newer_versions": retention.noncurrent_versions_kept, "with_state": "ARCHIVED"} in conditions
    assert {"days_since_noncurrent_time": retention.noncurrent_days_kept, "with_state": "ARCHIVED"} in conditions
    assert bucket["labels"]["managed-by"] == "cdktf"
    assert bucket["labels"]["environment"] == env_name


def deployer_member(stack) -> str:
    [name] = resources(stack, "google_service_account")
    return f"serviceAccount:${{google_service_account.{name}.email}}"


def test_deployer_has_least_privilege_project_roles(stack, environment, platform):
    account = only(stack, "google_service_account")
    assert account["account_id"] == environment.deployer_account_id
    grants = [g for g in resources(stack, "google_project_iam_member").values() if g["member"] == deployer_member(stack)]
    roles = {g["role"] for g in grants}
    custom_role = only(stack, "google_project_iam_custom_role")
    [custom_grant] = roles - set(platform.deployer_project_roles)
    assert custom_grant.startswith("${google_project_iam_custom_role.")
    assert not [role for role in roles if role in ("roles/owner", "roles/editor") or role.lower().endswith("admin")]
    # The deployer may not act as every service account of the project, read
    # every secret, or delete buckets (state included).
    assert "roles/iam.serviceAccountUser" not in roles
    forbidden = {"iam.serviceAccounts.actAs", "iam.serviceAccounts.getAccessToken", "secretmanager.versions.access", "storage.buckets.delete"}
    assert not forbidden & set(custom_role["permissions"])
    assert custom_role["permissions"] == platform.deployer_permissions


def test_state_access_granted_on_the_bucket_not_the_project(stack, environment):
    bucket_address = address_of(stack, "google_storage_bucket", lambda b: b["name"] == environment.state_bucket)
    grant = only(stack, "google_storage_bucket_iam_member")
    assert grant["member"] == deployer_member(stack)
    assert grant["role"] == "roles/storage.objectAdmin"
    assert bucket_address in references(grant)


def test_image_push_granted_on_the_repository(stack, environment):
    grant = only(stack, "google_artifact_registry_repository_iam_member")
    assert grant["member"] == deployer_member(stack)
    assert grant["role"] == "roles/artifactregistry.writer"


def test_github_oidc_provider(stack, environment, platform, env_name):
    provider = only(stack, "google_iam_workload_identity_pool_provider")
    assert provider["oidc"]["issuer_uri"] == "https://token.actions.githubusercontent.com"
    assert provider["workload_identity_pool_provider_id"] == environment.workload_identity.provider_id
    assert set(provider["attribute_mapping"]) >= {
        "google.subject",
        "attribute.repository",
        "attribute.repository_owner",
        "attribute.ref",
    }
    condition = provider["attribute_condition"]
    # Pinned through the `sub` claim, as checkov's CKV_GCP_125 requires.
    assert f"assertion.sub == 'repo:{platform.github.repository}:environment:{env_name}'" in condition
    assert f"refs/heads/{environment.deploy_branch}" in condition
    pool = only(stack, "google_iam_workload_identity_pool")
    assert pool["workload_identity_pool_id"] == environment.workload_identity.pool_id


def test_only_the_repository_may_impersonate_the_deployer(stack):
    binding = only(stack, "google_service_account_iam_member")
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"].startswith("principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.")
    assert binding["member"].endswith("/attribute.repository/Peleke/MindMirror")
    assert binding["service_account_id"].startswith("${google_service_account.")


EXPECTED_IMPORTS = {
    "staging": {
        "google_service_account": "projects/mindmirror-69/serviceAccounts/github-actions-staging@mindmirror-69.iam.gserviceaccount.com",
        "google_iam_workload_identity_pool": "projects/mindmirror-69/locations/global/workloadIdentityPools/github-pool",
        "google_iam_workload_identity_pool_provider": "projects/mindmirror-69/locations/global/workloadIdentityPools/github-pool/providers/github-oidc",
        "google_artifact_registry_repository": "projects/mindmirror-69/locations/us-east4/repositories/mindmirror",
        "google_storage_bucket": "mindmirror-69/mindmirror-tofu-state-staging",
    },
    "production": {
        "google_service_account": "projects/mindmirror-prod/serviceAccounts/github-actions-production@mindmirror-prod.iam.gserviceaccount.com",
        "google_iam_workload_identity_pool": "projects/mindmirror-prod/locations/global/workloadIdentityPools/github-pool",
        "google_iam_workload_identity_pool_provider": "projects/mindmirror-prod/locations/global/workloadIdentityPools/github-pool/providers/github-oidc",
    },
}


def test_existing_resources_are_adopted_with_provider_import_ids(stack, env_name):
    imports = {entry["to"].split(".")[0]: entry["id"] for entry in stack.get("import", [])}
    assert imports == EXPECTED_IMPORTS[env_name]
    for entry in stack["import"]:
        resource_type, name = entry["to"].split(".")
        assert name in resources(stack, resource_type), f"import targets a missing resource {entry['to']}"


def test_resources_wait_for_the_apis(stack):
    api_addresses = {f"google_project_service.{name}" for name in resources(stack, "google_project_service")}
    for resource_type in (
        "google_artifact_registry_repository",
        "google_storage_bucket",
        "google_service_account",
        "google_iam_workload_identity_pool",
    ):
        assert api_addresses <= set(only(stack, resource_type)["depends_on"]), resource_type


def test_outputs_for_ci(stack, environment):
    outputs = stack["output"]
    assert set(outputs) == {"deployer_email", "workload_identity_provider", "registry_url_prefix", "state_bucket"}
    assert outputs["registry_url_prefix"]["value"] == f"{environment.region}-docker.pkg.dev/{environment.project_id}/{environment.registry_repository}"
    assert outputs["workload_identity_provider"]["value"].endswith(".name}")


def test_state_bucket_location_follows_configuration(stacks, variant):
    assert only(stacks["bootstrap-staging"], "google_storage_bucket")["location"] == "US-EAST4"
    assert only(variant["bootstrap-staging"], "google_storage_bucket")["location"] == "US"


def test_bootstrap_state_can_move_into_the_bucket(variant):
    assert variant["bootstrap-production"]["terraform"]["backend"] == {
        "gcs": {"bucket": "mindmirror-tofu-state", "prefix": "bootstrap"}
    }
    assert "local" in variant["bootstrap-staging"]["terraform"]["backend"]
