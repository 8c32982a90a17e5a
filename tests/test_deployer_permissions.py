"""The CI deployer's rights, read from the synthesized stacks: nothing that
leads to other identities or secrets, and everything the app stack needs
(a missing permission fails here, not in `tofu apply`). Tables and their
sources: tests/iam_reference.py."""

from __future__ import annotations

import copy

import pytest

from platform_config import ci_role_id

from .iam_reference import ALLOWED_SET_IAM_POLICY, APP_STACK_PERMISSIONS, ESCALATION_PERMISSIONS, READ_PERMISSIONS, ROLE_PERMISSIONS
from .tfjson import address_of, resources


def account_member(bootstrap: dict, account_id: str) -> str:
    address = address_of(bootstrap, "google_service_account", lambda a: a["account_id"] == account_id)
    return f"serviceAccount:${{{address}.email}}"


def deployer_member(bootstrap: dict, environment) -> str:
    return account_member(bootstrap, environment.deployer_account_id)


def planner_member(bootstrap: dict, environment) -> str:
    return account_member(bootstrap, environment.planner_account_id)


def role_permissions(bootstrap: dict, role: str) -> frozenset[str]:
    """A predefined role from the pinned table, or a custom role of the stack."""
    if role.startswith("${google_project_iam_custom_role."):
        name = role.removeprefix("${google_project_iam_custom_role.").split(".")[0]
        return frozenset(resources(bootstrap, "google_project_iam_custom_role")[name]["permissions"])
    assert role in ROLE_PERMISSIONS, f"{role}: add its permissions to tests/iam_reference.py (Google's IAM roles reference)"
    return ROLE_PERMISSIONS[role]


def project_permissions(bootstrap: dict, member: str) -> set[str]:
    """Custom role plus predefined roles `member` holds on the project."""
    grants = [g for g in resources(bootstrap, "google_project_iam_member").values() if g["member"] == member]
    return {p for g in grants for p in role_permissions(bootstrap, g["role"])}


def granted_on(bootstrap: dict, member: str, grant_type: str, target_field: str, target: str) -> set[str]:
    """Permissions `member` holds through grants on one resource."""
    grants = [g for g in resources(bootstrap, grant_type).values() if g["member"] == member and g[target_field] == target]
    return {p for g in grants for p in role_permissions(bootstrap, g["role"])}


def scoped_permissions(bootstrap: dict, member: str, kind: str, body: dict) -> set[str]:
    if kind == "runtime_account":
        account_id = body["template"]["service_account"].split("@")[0]
        address = address_of(bootstrap, "google_service_account", lambda a: a["account_id"] == account_id)
        return granted_on(bootstrap, member, "google_service_account_iam_member", "service_account_id", f"${{{address}.name}}")
    if kind == "secret":
        secret_id = body["secret"].rsplit("/", 1)[1]
        address = address_of(bootstrap, "google_secret_manager_secret", lambda s: s["secret_id"] == secret_id)
        return granted_on(bootstrap, member, "google_secret_manager_secret_iam_member", "secret_id", f"${{{address}.secret_id}}")
    raise AssertionError(f"unknown scope {kind!r} in a permission table")


def app_blocks(app: dict):
    """(table key, address, body) of every resource and data source."""
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for resource_type, items in app.get(kind, {}).items():
            for name, body in items.items():
                yield f"{prefix}{resource_type}", f"{prefix}{resource_type}.{name}", body


def missing_permissions(stack: dict, bootstrap: dict, member: str, table: dict = APP_STACK_PERMISSIONS, table_name: str = "APP_STACK_PERMISSIONS") -> list[str]:
    """Every permission a block of `stack` needs (by `table`) and `member` lacks."""
    project = project_permissions(bootstrap, member)
    missing = []
    for key, address, body in app_blocks(stack):
        needs = table.get(key)
        if needs is None:
            missing.append(f"{address}: type {key} has no entry in {table_name} (tests/iam_reference.py)")
            continue
        for scope, permissions in needs.items():
            held = project if scope == "project" else project | scoped_permissions(bootstrap, member, scope, body)
            missing += [f"{address}: {p} ({scope})" for p in sorted(permissions - held)]
    return missing


def unreadable_by_planner(tree: dict, env_name: str, environment) -> list[str]:
    """What the planner lacks to refresh both stacks of the environment (PR plans, drift)."""
    bootstrap = tree[f"bootstrap-{env_name}"]
    member = planner_member(bootstrap, environment)
    return [
        f"{name}: {line}"
        for name in (f"app-{env_name}", f"bootstrap-{env_name}")
        for line in missing_permissions(tree[name], bootstrap, member, READ_PERMISSIONS, "READ_PERMISSIONS")
    ]


@pytest.fixture
def bootstrap(stacks, env_name) -> dict:
    return stacks[f"bootstrap-{env_name}"]


def test_no_escalation_permission_project_wide(bootstrap, environment):
    held = project_permissions(bootstrap, deployer_member(bootstrap, environment))
    assert not held & ESCALATION_PERMISSIONS, sorted(held & ESCALATION_PERMISSIONS)
    assert {p for p in held if p.endswith(".setIamPolicy")} <= ALLOWED_SET_IAM_POLICY


def test_deployer_holds_what_every_app_resource_needs(stacks, choices, platform):
    for tree in (stacks, choices):
        for env_name, environment in platform.environments.items():
            bootstrap = tree[f"bootstrap-{env_name}"]
            assert missing_permissions(tree[f"app-{env_name}"], bootstrap, deployer_member(bootstrap, environment)) == []


def test_a_missing_permission_fails(stacks, environment, env_name):
    bootstrap = copy.deepcopy(stacks[f"bootstrap-{env_name}"])
    [role] = [r for r in resources(bootstrap, "google_project_iam_custom_role").values() if r["role_id"] == ci_role_id("deployer", env_name)]
    role["permissions"] = [p for p in role["permissions"] if p != "run.services.create"]
    acts_as = resources(bootstrap, "google_service_account_iam_member")
    for name in [n for n, b in acts_as.items() if b["role"] == "roles/iam.serviceAccountUser"][:1]:
        del acts_as[name]
    missing = missing_permissions(stacks[f"app-{env_name}"], bootstrap, deployer_member(bootstrap, environment))
    assert sum("run.services.create (project)" in m for m in missing) == len(resources(stacks[f"app-{env_name}"], "google_cloud_run_v2_service"))
    assert sum("iam.serviceAccounts.actAs (runtime_account)" in m for m in missing) == 1


def test_a_new_resource_type_needs_a_table_entry(stacks, environment, env_name):
    app = copy.deepcopy(stacks[f"app-{env_name}"])
    app["resource"]["google_pubsub_topic"] = {"events": {"name": "events"}}
    bootstrap = stacks[f"bootstrap-{env_name}"]
    assert missing_permissions(app, bootstrap, deployer_member(bootstrap, environment)) == [
        "google_pubsub_topic.events: type google_pubsub_topic has no entry in APP_STACK_PERMISSIONS (tests/iam_reference.py)"
    ]


def test_planner_can_refresh_both_stacks(stacks, choices, platform):
    """The drift check plans app and bootstrap stacks as the planner: every
    resource's read must be granted, or the plan fails with 403 in CI."""
    for tree in (stacks, choices):
        for env_name, environment in platform.environments.items():
            assert unreadable_by_planner(tree, env_name, environment) == []


def test_planner_holds_no_write_or_escalation(bootstrap, environment):
    held = project_permissions(bootstrap, planner_member(bootstrap, environment))
    assert not held & ESCALATION_PERMISSIONS, sorted(held & ESCALATION_PERMISSIONS)
    verbs = {p.rsplit(".", 1)[1] for p in held}
    assert verbs <= {"get", "list", "getIamPolicy"}, sorted(verbs)


def test_a_missing_read_fails(stacks, environment, env_name):
    tree = copy.deepcopy({name: stacks[name] for name in (f"app-{env_name}", f"bootstrap-{env_name}")})
    [role] = [r for r in resources(tree[f"bootstrap-{env_name}"], "google_project_iam_custom_role").values() if r["role_id"] == ci_role_id("planner", env_name)]
    role["permissions"] = [p for p in role["permissions"] if p != "iam.roles.get"]
    roles = resources(tree[f"bootstrap-{env_name}"], "google_project_iam_custom_role")
    assert [line.split(" ")[0] for line in unreadable_by_planner(tree, env_name, environment)] == [f"bootstrap-{env_name}:" for _ in roles]
