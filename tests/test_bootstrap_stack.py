"""Safety rules of the bootstrap stacks, each stated once so a regression names itself."""

from __future__ import annotations

import re

import pytest

from platform_config.naming import data_bucket_name, data_bucket_names, url_secret_ids
from platform_config.workload_identity import attribute_condition, attribute_mapping
from stacks.layout_move import layout_1_data_buckets
from tools.synth_diff import FORCES_REPLACEMENT

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


def bucket_named(stack: dict, name: str) -> dict:
    [bucket] = [b for b in resources(stack, "google_storage_bucket").values() if b["name"] == name]
    return bucket


def test_state_bucket_is_hardened(stack, environment, platform, env_name):
    bucket = bucket_named(stack, environment.state_bucket)
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


def account_member(stack, account_id: str) -> str:
    [name] = [n for n, a in resources(stack, "google_service_account").items() if a["account_id"] == account_id]
    return f"serviceAccount:${{google_service_account.{name}.email}}"


def grants_to(stack, resource_type: str, member: str) -> list[dict]:
    return [g for g in resources(stack, resource_type).values() if g["member"] == member]


def custom_role_of(stack, member: str) -> dict:
    """The custom project role granted to `member` (exactly one)."""
    roles = {g["role"] for g in grants_to(stack, "google_project_iam_member", member)}
    [role] = [r for r in roles if r.startswith("${google_project_iam_custom_role.")]
    name = role.removeprefix("${google_project_iam_custom_role.").removesuffix(".name}")
    return resources(stack, "google_project_iam_custom_role")[name]


def test_deployer_has_least_privilege_project_roles(stack, environment, platform, env_name):
    member = account_member(stack, environment.deployer_account_id)
    roles = {g["role"] for g in grants_to(stack, "google_project_iam_member", member)}
    custom_role = custom_role_of(stack, member)
    [custom_grant] = roles - set(platform.deployer_project_roles)
    assert custom_grant.startswith("${google_project_iam_custom_role.")
    assert not [role for role in roles if role in ("roles/owner", "roles/editor") or role.lower().endswith("admin")]
    # The deployer may not act as every service account of the project, read
    # every secret, or delete buckets (state included).
    assert "roles/iam.serviceAccountUser" not in roles
    forbidden = {"iam.serviceAccounts.actAs", "iam.serviceAccounts.getAccessToken", "secretmanager.versions.access", "storage.buckets.delete"}
    assert not forbidden & set(custom_role["permissions"])
    assert custom_role["permissions"] == platform.deployer_permissions
    # One per environment: two environments in one project must not collide.
    assert custom_role["role_id"] == f"cdktfDeployer_{env_name}"


def test_state_access_granted_on_the_bucket_not_the_project(stack, environment):
    bucket_address = address_of(stack, "google_storage_bucket", lambda b: b["name"] == environment.state_bucket)
    [grant] = grants_to(stack, "google_storage_bucket_iam_member", account_member(stack, environment.deployer_account_id))
    assert grant["role"] == "roles/storage.objectAdmin"
    assert bucket_address in references(grant)


def test_image_push_granted_on_the_repository(stack, environment):
    [grant] = grants_to(stack, "google_artifact_registry_repository_iam_member", account_member(stack, environment.deployer_account_id))
    assert grant["role"] == "roles/artifactregistry.writer"


# --- CI identities and Workload Identity --------------------------------------

READ_ONLY_VERBS = ("get", "list", "getIamPolicy")


def test_planner_reads_only(stack, environment, platform, env_name):
    member = account_member(stack, environment.planner_account_id)
    project_roles = {g["role"] for g in grants_to(stack, "google_project_iam_member", member)}
    permissions = custom_role_of(stack, member)["permissions"]
    assert len(project_roles) == 1, "the planner's only project role is its custom role"
    assert permissions and all(p.rsplit(".", 1)[1] in READ_ONLY_VERBS for p in permissions), permissions
    assert "secretmanager.versions.access" not in permissions
    # State: read, on the state bucket only (plans run with -lock=false).
    bucket_address = address_of(stack, "google_storage_bucket", lambda b: b["name"] == environment.state_bucket)
    [state_grant] = grants_to(stack, "google_storage_bucket_iam_member", member)
    assert state_grant["role"] == "roles/storage.objectViewer"
    assert bucket_address in references(state_grant)
    # Secret payloads: the URL secrets only, never an operator secret.
    secret_grants = grants_to(stack, "google_secret_manager_secret_iam_member", member)
    url_secrets = [s.url_name for s in platform.services if s.url_name]
    url_secrets.append(platform.service_urls_secret.format(project=environment.project_id, env=env_name))
    granted = [g["secret_id"].removeprefix("${").removesuffix(".secret_id}") for g in secret_grants]
    assert sorted(resources(stack, "google_secret_manager_secret")[a.split(".")[1]]["secret_id"] for a in granted) == sorted(url_secrets)
    assert {g["role"] for g in secret_grants} == {"roles/secretmanager.secretAccessor"}
    assert not set(url_secrets) & set(platform.operator_secrets)
    assert not grants_to(stack, "google_artifact_registry_repository_iam_member", member)


def test_builder_pushes_images_only(stack, environment):
    member = account_member(stack, environment.builder_account_id)
    [push] = grants_to(stack, "google_artifact_registry_repository_iam_member", member)
    assert push["role"] == "roles/artifactregistry.writer"
    assert address_of(stack, "google_artifact_registry_repository", lambda r: True) in references(push)
    assert len(grants_to(stack, "google_project_iam_member", member)) == 1
    assert custom_role_of(stack, member)["permissions"] == ["resourcemanager.projects.get"]
    for resource_type in ("google_storage_bucket_iam_member", "google_secret_manager_secret_iam_member"):
        assert not grants_to(stack, resource_type, member), resource_type


def test_custom_role_ids_are_distinct(stack):
    """Per project; the configuration refuses two environments in one project."""
    role_ids = [r["role_id"] for r in resources(stack, "google_project_iam_custom_role").values()]
    assert len(role_ids) == len(set(role_ids)) > 1


def test_github_oidc_provider_is_the_generated_one(stack, environment, platform, env_name):
    """The synthesized condition and mapping are exactly what
    platform_config.workload_identity generates (and tests/test_workload_identity.py
    proves), so a rehearsal reading the JSON checks the real thing."""
    provider = only(stack, "google_iam_workload_identity_pool_provider")
    assert provider["oidc"]["issuer_uri"] == "https://token.actions.githubusercontent.com"
    assert provider["workload_identity_pool_provider_id"] == environment.workload_identity.provider_id
    assert provider["attribute_condition"] == attribute_condition(platform, env_name)
    assert provider["attribute_mapping"] == attribute_mapping(platform, env_name)
    assert "${" not in provider["attribute_condition"] + "".join(provider["attribute_mapping"].values())
    pool = only(stack, "google_iam_workload_identity_pool")
    assert pool["workload_identity_pool_id"] == environment.workload_identity.pool_id


def test_each_ci_identity_admits_only_its_kinds_of_access(stack, environment):
    """One authoritative binding per CI account (members added by hand are
    removed). Only the deployer admits deploy tokens; only build tokens (the
    deploy's jobs without an approval) may push; the planner admits plan
    tokens and, for the deploy's read-only jobs, build tokens."""
    role = "roles/iam.workloadIdentityUser"
    assert not [m for m in resources(stack, "google_service_account_iam_member").values() if m["role"] == role]
    bindings = [b for b in resources(stack, "google_service_account_iam_binding").values() if b["role"] == role]
    account_ids = {f"${{google_service_account.{name}.name}}": a["account_id"] for name, a in resources(stack, "google_service_account").items()}
    prefix = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool."
    admitted = {}
    for binding in bindings:
        for member in binding["members"]:
            assert member.startswith(prefix) and ".name}/attribute.access/" in member, member
        admitted[account_ids[binding["service_account_id"]]] = {member.rsplit("/", 1)[1] for member in binding["members"]}
    assert admitted == {
        environment.deployer_account_id: {"deploy"},
        environment.planner_account_id: {"plan", "build"},
        environment.builder_account_id: {"build"},
    }


# The google provider's documented import id of each adoptable resource
# (its "Import" section), spelled out from the environment's configuration.
IMPORT_IDS = {
    "deployer": ("google_service_account", "projects/{p}/serviceAccounts/{e.deployer_account_id}@{p}.iam.gserviceaccount.com"),
    "workload_identity_pool": (
        "google_iam_workload_identity_pool",
        "projects/{p}/locations/global/workloadIdentityPools/{e.workload_identity.pool_id}",
    ),
    "workload_identity_provider": (
        "google_iam_workload_identity_pool_provider",
        "projects/{p}/locations/global/workloadIdentityPools/{e.workload_identity.pool_id}/providers/{e.workload_identity.provider_id}",
    ),
    "registry": ("google_artifact_registry_repository", "projects/{p}/locations/{e.region}/repositories/{e.registry_repository}"),
    "state_bucket": ("google_storage_bucket", "{p}/{e.state_bucket}"),
}


def import_blocks(stack: dict) -> list[dict]:
    """A stack that adopts nothing has no `import` key."""
    return stack.get("import", [])


def test_existing_resources_are_adopted_with_provider_import_ids(stack, environment):
    """Exactly the adopted ones of these resources are imported, by their documented
    ids (runtime accounts and data buckets, adopted by lists of their own, share
    their resource types)."""
    imported = {(entry["to"].split(".")[0], entry["id"]) for entry in import_blocks(stack)}
    targets = {kind: (resource_type, template.format(p=environment.project_id, e=environment)) for kind, (resource_type, template) in IMPORT_IDS.items()}
    assert {kind for kind, target in targets.items() if target in imported} == {a.value for a in environment.adopt}
    for entry in import_blocks(stack):
        resource_type, name = entry["to"].split(".")
        assert name in resources(stack, resource_type), f"import targets a missing resource {entry['to']}"


def test_resources_wait_for_the_apis(stack):
    api_addresses = {f"google_project_service.{name}" for name in resources(stack, "google_project_service")}
    for resource_type in (
        "google_artifact_registry_repository",
        "google_storage_bucket",
        "google_iam_workload_identity_pool",
        "google_secret_manager_secret",
    ):
        for body in resources(stack, resource_type).values():
            assert api_addresses <= set(body["depends_on"]), resource_type
    for name, account in resources(stack, "google_service_account").items():
        assert api_addresses <= set(account["depends_on"]), name


def test_outputs_for_ci(stack, environment):
    outputs = stack["output"]
    assert set(outputs) == {"deployer_email", "planner_email", "builder_email", "workload_identity_provider", "registry_url_prefix", "state_bucket"}
    for kind in ("deployer", "planner", "builder"):
        assert outputs[f"{kind}_email"]["value"] == account_member(stack, getattr(environment, f"{kind}_account_id")).removeprefix("serviceAccount:")
    assert outputs["registry_url_prefix"]["value"] == f"{environment.region}-docker.pkg.dev/{environment.project_id}/{environment.registry_repository}"
    assert outputs["workload_identity_provider"]["value"].endswith(".name}")


def test_state_bucket_location_follows_configuration(stacks, variant, platform):
    staging = platform.environments["staging"]
    assert bucket_named(stacks["bootstrap-staging"], staging.state_bucket)["location"] == staging.region.upper()
    assert bucket_named(variant["bootstrap-staging"], staging.state_bucket)["location"] == "US"


def test_bootstrap_state_can_move_into_the_bucket(variant, platform):
    bucket = platform.environments["production"].state_bucket
    assert variant["bootstrap-production"]["terraform"]["backend"] == {"gcs": {"bucket": bucket, "prefix": "bootstrap"}}
    assert "local" in variant["bootstrap-staging"]["terraform"]["backend"]


# --- what the app stack uses but only an admin may create (issue 11) ---


def runtime_accounts(stack: dict, env_name: str, platform) -> dict[str, str]:
    """Service name -> address of its runtime service account."""
    return {s.name: address_of(stack, "google_service_account", lambda a, s=s: a["account_id"] == f"{s.name}-{env_name}") for s in platform.services}


def test_every_service_has_its_own_runtime_identity(stack, env_name, platform):
    accounts = runtime_accounts(stack, env_name, platform)
    assert len(set(accounts.values())) == len(platform.services)


def test_services_read_exactly_the_secrets_they_use(stack, env_name, platform):
    grants = resources(stack, "google_secret_manager_secret_iam_member").values()
    for service, address in runtime_accounts(stack, env_name, platform).items():
        mine = [g for g in grants if g["member"] == f"serviceAccount:${{{address}.email}}"]
        assert {g["secret_id"] for g in mine} == set(platform.service(service).secrets.values()), service
        assert {g["role"] for g in mine} <= {"roles/secretmanager.secretAccessor"}
    project_roles = {g["role"] for g in resources(stack, "google_project_iam_member").values()}
    assert not any("secretmanager" in role or role == "roles/iam.serviceAccountUser" for role in project_roles)


def test_deployer_acts_only_as_the_runtime_accounts(stack, env_name, environment, platform):
    acts_as = [b for b in resources(stack, "google_service_account_iam_member").values() if b["role"] == "roles/iam.serviceAccountUser"]
    assert {b["member"] for b in acts_as} == {account_member(stack, environment.deployer_account_id)}
    assert sorted(b["service_account_id"] for b in acts_as) == sorted(
        f"${{{address}.name}}" for address in runtime_accounts(stack, env_name, platform).values()
    )


def test_url_secrets_with_the_deployers_rights_on_each(stack, platform, env_name, environment):
    secrets = {body["secret_id"]: name for name, body in resources(stack, "google_secret_manager_secret").items()}
    assert set(secrets) == {s.url_name for s in platform.services if s.url_name} | {f"service-urls-{env_name}"}
    deployer_grants = [
        g for g in resources(stack, "google_secret_manager_secret_iam_member").values() if g["member"] == account_member(stack, environment.deployer_account_id)
    ]
    for secret_id, name in secrets.items():
        roles = {g["role"] for g in deployer_grants if g["secret_id"] == f"${{google_secret_manager_secret.{name}.secret_id}}"}
        assert roles == {"roles/secretmanager.secretVersionManager", "roles/secretmanager.secretAccessor"}, secret_id
    assert len(deployer_grants) == 2 * len(secrets), "the deployer holds rights on a secret that is not a URL secret"


def test_repeated_grants_are_keyed_by_member_not_position(stacks, choices):
    """Reordering a list must not destroy and re-create grants."""
    for tree in (stacks, choices):
        for name, stack in tree.items():
            for resource_type, items in stack.get("resource", {}).items():
                indexed = [n for n in items if re.search(r"(reader|grant|member)-\d+_", n)]
                assert not indexed, f"{name}: {resource_type} keyed by position: {indexed}"


def test_adopted_secrets_keep_their_replication_and_cannot_be_destroyed(stacks, choices, platform):
    """Replication forces replacement: an adopted secret made with
    user-managed replication must never plan destroy-and-create."""
    for tree in (stacks, choices):
        for env_name in platform.environments:
            stack = tree[f"bootstrap-{env_name}"]
            for entry in import_blocks(stack):
                resource_type, name = entry["to"].split(".")
                body = resources(stack, resource_type)[name]
                replacing = FORCES_REPLACEMENT.get(resource_type, frozenset()) & {"replication", "auto"}
                assert replacing <= set(body.get("lifecycle", {}).get("ignore_changes", [])), entry["to"]
                if resource_type == "google_secret_manager_secret":
                    assert body["lifecycle"]["prevent_destroy"] is True, entry["to"]


def test_adopted_url_secrets_are_imported(stack, environment):
    secrets = {name: body["secret_id"] for name, body in resources(stack, "google_secret_manager_secret").items()}
    imported = {secrets[e["to"].split(".")[1]]: e["id"] for e in import_blocks(stack) if e["to"].startswith("google_secret_manager_secret.")}
    assert imported == {s: f"projects/{environment.project_id}/secrets/{s}" for s in environment.adopt_secrets}


def test_data_buckets_and_the_services_access(stack, environment, env_name, platform):
    """Each configured data bucket is hardened like the state bucket, and
    exactly the services with bucket_access to it get their role on it."""
    accounts = runtime_accounts(stack, env_name, platform)
    all_grants = resources(stack, "google_storage_bucket_iam_member").values()
    for key, configured in platform.data_buckets.items():
        bucket = bucket_named(stack, data_bucket_name(platform, env_name, key))
        assert bucket["uniform_bucket_level_access"] is True and bucket["force_destroy"] is False
        assert bucket["public_access_prevention"] == "enforced" and bucket["lifecycle"]["prevent_destroy"] is True
        assert bucket["versioning"] == {"enabled": True} and bucket["labels"]["purpose"] == key
        assert bucket["location"] == (configured.location or environment.region).upper()
        address = address_of(stack, "google_storage_bucket", lambda b, name=bucket["name"]: b["name"] == name)
        grants = {g["member"]: g["role"] for g in all_grants if address in references(g)}
        assert grants == {
            f"serviceAccount:${{{accounts[s.name]}.email}}": f"roles/storage.{s.bucket_access[key]}" for s in platform.services if key in s.bucket_access
        }


def test_adopted_data_buckets_are_imported_where_they_are(choices, platform):
    production = choices["bootstrap-production"]
    project = platform.environments["production"].project_id
    imported = {e["id"] for e in production["import"] if e["to"].startswith("google_storage_bucket.")}
    names = [*data_bucket_names(platform, "production").values(), f"test-only-{project}-production"]
    assert imported == {f"{project}/{name}" for name in names}
    assert {bucket_named(production, name)["location"] for name in names} <= {"US"}


def test_existing_runtime_accounts_and_a_moved_layout_are_imported(choices, platform):
    production = choices["bootstrap-production"]
    account_imports = {e["id"] for e in production["import"] if e["to"].startswith("google_service_account.")}
    project = platform.environments["production"].project_id
    assert f"projects/{project}/serviceAccounts/journal-service-production@{project}.iam.gserviceaccount.com" in account_imports
    assert not any("agent-service-production" in i for i in account_imports)
    # staging moves layout 1: every account, URL secret and data bucket is imported.
    staging = choices["bootstrap-staging"]
    imported = {e["id"] for e in staging["import"]}
    project = platform.environments["staging"].project_id
    for service in platform.services:
        assert f"projects/{project}/serviceAccounts/{service.name}-staging@{project}.iam.gserviceaccount.com" in imported
    assert {f"projects/{project}/secrets/{secret}" for secret in url_secret_ids(platform, "staging")} <= imported
    # Layout 1 made the traditions bucket only: a bucket configured since is created.
    state_bucket = f"{project}/{platform.environments['staging'].state_bucket}"
    buckets = {e["id"] for e in staging["import"] if e["to"].startswith("google_storage_bucket.")} - {state_bucket}
    assert buckets == {f"{project}/{data_bucket_name(platform, 'staging', key)}" for key in layout_1_data_buckets(platform)}
    assert bucket_named(staging, f"test-only-{project}-staging")
