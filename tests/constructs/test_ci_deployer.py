from constructs_lib.ci_deployer import CiDeployer

from ..tfjson import only, resources
from .bare_stack import PROJECT, bare_stack, imports, synth

ROLES = ["roles/run.developer", "roles/iam.serviceAccountViewer"]
PERMISSIONS = ["run.services.get", "run.services.update"]


def build(**overrides) -> tuple[CiDeployer, dict]:
    stack = bare_stack()
    kwargs = dict(project=PROJECT, account_id="deployer", project_roles=ROLES, custom_role_permissions=PERMISSIONS, role_id="deployer_test")
    deployer = CiDeployer(stack, "deployer", **{**kwargs, **overrides})
    return deployer, synth(stack)


def test_deployer_holds_its_roles_and_one_custom_role_of_exactly_the_permissions():
    _, stack = build()
    role = only(stack, "google_project_iam_custom_role")
    assert role["permissions"] == PERMISSIONS and role["role_id"] == "deployer_test"
    (role_address,) = resources(stack, "google_project_iam_custom_role")
    granted = {grant["role"] for grant in resources(stack, "google_project_iam_member").values()}
    assert granted == {*ROLES, f"${{google_project_iam_custom_role.{role_address}.name}}"}


def test_no_custom_role_without_permissions():
    _, stack = build(custom_role_permissions=[])
    assert not resources(stack, "google_project_iam_custom_role")
    assert {grant["role"] for grant in resources(stack, "google_project_iam_member").values()} == set(ROLES)


def test_role_grants_keyed_by_role_not_position():
    _, forward = build()
    _, backward = build(project_roles=list(reversed(ROLES)))
    assert set(resources(forward, "google_project_iam_member")) == set(resources(backward, "google_project_iam_member"))


def test_adoption_imports_with_the_documented_id():
    deployer, stack = build(exists=True)
    (address,) = resources(stack, "google_service_account")
    assert deployer.email == f"deployer@{PROJECT}.iam.gserviceaccount.com"
    assert imports(stack) == {f"google_service_account.{address}": f"projects/{PROJECT}/serviceAccounts/{deployer.email}"}
    assert imports(build()[1]) == {}
