from constructs_lib.runtime_identity import RuntimeIdentity

from ..tfjson import only, resources
from .bare_stack import MEMBER, PROJECT, bare_stack, imports, synth


def build(**overrides) -> tuple[RuntimeIdentity, dict]:
    stack = bare_stack()
    kwargs = dict(project=PROJECT, account_id="api-test", service_name="api", secrets=["B", "A", "B"], deployer_member=MEMBER)
    identity = RuntimeIdentity(stack, "api", **{**kwargs, **overrides})
    return identity, synth(stack)


def test_reads_each_of_its_secrets_once_keyed_by_secret():
    _, stack = build()
    account = next(iter(resources(stack, "google_service_account")))
    grants = resources(stack, "google_secret_manager_secret_iam_member")
    assert sorted(g["secret_id"] for g in grants.values()) == ["A", "B"]
    for grant in grants.values():
        assert grant["role"] == "roles/secretmanager.secretAccessor"
        assert grant["member"] == f"serviceAccount:${{google_service_account.{account}.email}}"
    assert set(grants) == set(build(secrets=["A", "B"])[1]["resource"]["google_secret_manager_secret_iam_member"])


def test_deployer_may_act_as_this_account_only():
    _, stack = build()
    account = next(iter(resources(stack, "google_service_account")))
    act_as = only(stack, "google_service_account_iam_member")
    assert act_as == {
        "member": MEMBER,
        "role": "roles/iam.serviceAccountUser",
        "service_account_id": f"${{google_service_account.{account}.name}}",
    }
    assert not resources(stack, "google_project_iam_member")


def test_adoption_imports_with_the_documented_id():
    identity, stack = build(exists=True)
    (address,) = resources(stack, "google_service_account")
    assert identity.email == f"api-test@{PROJECT}.iam.gserviceaccount.com"
    assert imports(stack) == {f"google_service_account.{address}": f"projects/{PROJECT}/serviceAccounts/{identity.email}"}
    assert imports(build()[1]) == {}
