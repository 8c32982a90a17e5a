import pytest

from constructs_lib.github_workload_identity import GitHubWorkloadIdentity
from platform_config.workload_identity import ACCESS_LEVELS, GITHUB_ISSUER

from ..tfjson import only, resources
from .bare_stack import PROJECT, bare_stack, imports, synth

CONDITION = "assertion.repository == 'me/app'"
MAPPING = {"google.subject": "assertion.sub", "attribute.access": "'deploy'"}
ACCOUNT = f"projects/{PROJECT}/serviceAccounts/sa@{PROJECT}.iam.gserviceaccount.com"


def build(stack, **overrides) -> GitHubWorkloadIdentity:
    kwargs = dict(project=PROJECT, pool_id="pool", provider_id="github", attribute_condition=CONDITION, attribute_mapping=MAPPING)
    return GitHubWorkloadIdentity(stack, "github", **{**kwargs, **overrides})


def test_provider_trusts_github_under_the_condition_and_mapping():
    stack = bare_stack()
    build(stack)
    provider = only(synth(stack), "google_iam_workload_identity_pool_provider")
    assert provider["oidc"] == {"issuer_uri": GITHUB_ISSUER}
    assert provider["attribute_condition"] == CONDITION
    assert provider["attribute_mapping"] == MAPPING


@pytest.mark.parametrize("condition", ["", "   "])
def test_refuses_an_empty_condition(condition):
    with pytest.raises(ValueError, match="attribute_condition"):
        build(bare_stack(), attribute_condition=condition)


def test_refuses_a_mapping_without_access():
    with pytest.raises(ValueError, match="attribute.access"):
        build(bare_stack(), attribute_mapping={"google.subject": "assertion.sub"})


@pytest.mark.parametrize("accesses", [[], ["admin"], ["deploy", "admin"]])
def test_refuses_unknown_or_no_accesses(accesses):
    github = build(bare_stack())
    with pytest.raises(ValueError, match="accesses"):
        github.allow_impersonation("x", service_account_name=ACCOUNT, accesses=accesses)


def test_impersonation_is_one_authoritative_binding_per_account_of_principal_sets():
    stack = bare_stack()
    github = build(stack)
    github.allow_impersonation("deployer-impersonation", service_account_name=ACCOUNT, accesses=list(ACCESS_LEVELS))
    out = synth(stack)
    pool = next(iter(resources(out, "google_iam_workload_identity_pool")))
    binding = only(out, "google_service_account_iam_binding")
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["service_account_id"] == ACCOUNT
    assert binding["members"] == [
        f"principalSet://iam.googleapis.com/${{google_iam_workload_identity_pool.{pool}.name}}/attribute.access/{access}" for access in ACCESS_LEVELS
    ]
    assert not resources(out, "google_service_account_iam_member")


def test_adoption_imports_pool_and_provider_with_the_documented_ids():
    stack = bare_stack()
    build(stack, pool_exists=True, provider_exists=True)
    out = synth(stack)
    pool = next(iter(resources(out, "google_iam_workload_identity_pool")))
    provider = next(iter(resources(out, "google_iam_workload_identity_pool_provider")))
    pool_id = f"projects/{PROJECT}/locations/global/workloadIdentityPools/pool"
    assert imports(out) == {
        f"google_iam_workload_identity_pool.{pool}": pool_id,
        f"google_iam_workload_identity_pool_provider.{provider}": f"{pool_id}/providers/github",
    }
