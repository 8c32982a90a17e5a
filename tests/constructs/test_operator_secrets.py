from constructs_lib.operator_secrets import LISTED_IDS, OperatorSecretsPresent

from .bare_stack import PROJECT, bare_stack, synth


def guard_of(secret_ids: list[str]) -> dict:
    stack = bare_stack()
    OperatorSecretsPresent(stack, "operator-secrets", project=PROJECT, secret_ids=secret_ids)
    (listing,) = synth(stack)["data"]["google_secret_manager_secrets"].values()
    return listing


def test_lists_the_projects_secrets_and_checks_each_needed_one_once():
    listing = guard_of(["B_SECRET", "A_SECRET", "B_SECRET"])
    assert listing["project"] == PROJECT
    (condition,) = listing["lifecycle"]["postcondition"]
    assert f'setsubtract(["A_SECRET", "B_SECRET"], {LISTED_IDS})' in condition["condition"]
    assert f"gcloud secrets create ${{id}} --project {PROJECT} --data-file=-" in condition["error_message"]


def test_nothing_but_ids_is_read():
    """No secret version (value) data source: only the list of secret ids."""
    stack = bare_stack()
    OperatorSecretsPresent(stack, "operator-secrets", project=PROJECT, secret_ids=["A_SECRET"])
    assert list(synth(stack)["data"]) == ["google_secret_manager_secrets"]
