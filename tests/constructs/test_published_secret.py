from constructs_lib.published_secret import WRITER_ROLES, PublishedSecret, PublishedSecretValue

from ..tfjson import only, resources
from .bare_stack import MEMBER, PROJECT, bare_stack, imports, synth


def build(stack, **overrides) -> PublishedSecret:
    return PublishedSecret(stack, "url", **{**dict(project=PROJECT, secret_id="API_URL", labels={}), **overrides})


def test_new_secret_replicates_automatically_and_may_be_destroyed():
    stack = bare_stack()
    build(stack)
    secret = only(synth(stack), "google_secret_manager_secret")
    assert secret["replication"] == {"auto": {}}
    assert "lifecycle" not in secret


def test_adopted_secret_keeps_its_replication_is_protected_and_imported():
    stack = bare_stack()
    build(stack, exists=True)
    out = synth(stack)
    (address,) = resources(out, "google_secret_manager_secret")
    assert out["resource"]["google_secret_manager_secret"][address]["lifecycle"] == {"ignore_changes": ["replication"], "prevent_destroy": True}
    assert imports(out) == {f"google_secret_manager_secret.{address}": f"projects/{PROJECT}/secrets/API_URL"}


def test_grants_on_the_secret_keyed_by_name_and_role_not_position():
    def grant_ids(grant_order: list[str]) -> set[str]:
        stack = bare_stack()
        secret = build(stack)
        for name in grant_order:
            secret.grant(name, roles=WRITER_ROLES, member=f"serviceAccount:{name}@{PROJECT}.iam.gserviceaccount.com")
        return set(resources(synth(stack), "google_secret_manager_secret_iam_member"))

    ids = grant_ids(["deployer", "planner"])
    assert ids == grant_ids(["planner", "deployer"])
    assert len(ids) == 2 * len(WRITER_ROLES)
    assert {i.rsplit("_", 1)[0] for i in ids} == {f"url_{name}-{role.rsplit('.', 1)[1]}" for name in ("deployer", "planner") for role in WRITER_ROLES}


def test_grant_is_on_this_secret_only():
    stack = bare_stack()
    build(stack).grant("deployer", roles=WRITER_ROLES, member=MEMBER)
    grants = resources(synth(stack), "google_secret_manager_secret_iam_member").values()
    assert {g["role"] for g in grants} == set(WRITER_ROLES)
    assert all(g["member"] == MEMBER and g["secret_id"].startswith("${google_secret_manager_secret.") for g in grants)


def test_value_names_the_secret_across_the_stack_boundary():
    stack = bare_stack()
    PublishedSecretValue(stack, "url-value", project=PROJECT, secret_id="API_URL", value="https://api.example")
    out = synth(stack)
    version = only(out, "google_secret_manager_secret_version")
    assert version == {"secret": f"projects/{PROJECT}/secrets/API_URL", "secret_data": "https://api.example"}
    assert not resources(out, "google_secret_manager_secret")
