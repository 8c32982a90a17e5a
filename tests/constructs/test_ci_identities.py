from constructs_lib.ci_identities import CiIdentity, ci_builder, ci_planner
from platform_config.role_permissions import BUILDER_PERMISSIONS, PLANNER_PERMISSIONS

from ..tfjson import only, resources
from .bare_stack import PROJECT, bare_stack, synth


def test_identity_holds_exactly_one_custom_role_of_its_permissions():
    stack = bare_stack()
    CiIdentity(stack, "auditor", project=PROJECT, account_id="auditor", display_name="Auditor", role_id="auditor_test", permissions=["run.services.list"])
    out = synth(stack)
    account_address = next(iter(resources(out, "google_service_account")))
    role_address = next(iter(resources(out, "google_project_iam_custom_role")))
    assert only(out, "google_project_iam_custom_role")["permissions"] == ["run.services.list"]
    grant = only(out, "google_project_iam_member")
    assert grant["role"] == f"${{google_project_iam_custom_role.{role_address}.name}}"
    assert grant["member"] == f"serviceAccount:${{google_service_account.{account_address}.email}}"


def test_planner_and_builder_get_their_permission_lists():
    stack = bare_stack()
    ci_planner(stack, "planner", project=PROJECT, account_id="planner", role_id="planner_test")
    ci_builder(stack, "builder", project=PROJECT, account_id="builder", role_id="builder_test")
    roles = {role["role_id"]: role["permissions"] for role in resources(synth(stack), "google_project_iam_custom_role").values()}
    assert roles == {"planner_test": list(PLANNER_PERMISSIONS), "builder_test": list(BUILDER_PERMISSIONS)}
