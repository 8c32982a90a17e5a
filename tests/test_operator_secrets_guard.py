"""The bootstrap's operator-secrets guard, evaluated by the project's
OpenTofu: its synthesized condition and message, with the secret list the
Google provider's data source would read (`self.secrets`) given as a local
value, since the provider cannot be built here (README, "The engine").

A missing secret stops the plan (so nothing changes) with one line per
missing secret and its command; when every secret exists the plan passes.
"""

from __future__ import annotations

import json
import re

import pytest

from platform_config.naming import bootstrap_stack_name

from .bootstrap_grants import project_of
from .engine import engine_env, require_engine, run

SECRET_ID = "[A-Za-z0-9_-]+"  # a literal id, not the template's `${id}`


def message(result) -> str:
    """OpenTofu's error output with its line wrapping undone."""
    return " ".join(result.stderr.split())


def granted_secrets(stack: dict) -> list[str]:
    """The secrets runtime identities are granted on (their `reads-<secret>` grants)."""
    return sorted(
        {grant["secret_id"] for grant in stack["resource"]["google_secret_manager_secret_iam_member"].values() if "/reads-" in grant["//"]["metadata"]["path"]}
    )


def plan_with_listed(tmp_path, stack: dict, listed: list[str]):
    (listing,) = stack["data"]["google_secret_manager_secrets"].values()
    (condition,) = listing["lifecycle"]["postcondition"]
    as_local = {key: value.replace("self.secrets", "local.listed") for key, value in condition.items()}
    config = {
        "locals": {"listed": [{"secret_id": secret} for secret in listed]},
        "resource": {"terraform_data": {"guard": {"lifecycle": {"precondition": [as_local]}}}},
    }
    (tmp_path / "main.tf.json").write_text(json.dumps(config))
    env = engine_env(tmp_path, "http://127.0.0.1:9/storage/v1/", "unused")
    assert run(tmp_path, env, "init", "-input=false", "-no-color").returncode == 0
    return run(tmp_path, env, "plan", "-input=false", "-no-color")


@pytest.fixture
def bootstrap(stacks, env_name):
    require_engine()
    return stacks[bootstrap_stack_name(env_name)]


def test_every_missing_secret_is_named_with_its_command(bootstrap, tmp_path):
    secrets, project = granted_secrets(bootstrap), project_of(bootstrap)
    result = plan_with_listed(tmp_path, bootstrap, listed=["SOMETHING_ELSE"])
    assert result.returncode != 0
    named = re.findall(
        rf"operator secret ({SECRET_ID}) does not exist in (\S+): an operator creates it with its value before this apply: "
        rf"`gcloud secrets create ({SECRET_ID}) --project (\S+) --data-file=-`",
        message(result),
    )
    assert named == [(secret, project, secret, project) for secret in secrets]


def test_one_missing_secret_is_the_only_one_named(bootstrap, tmp_path):
    secrets = granted_secrets(bootstrap)
    result = plan_with_listed(tmp_path, bootstrap, listed=secrets[1:])
    assert result.returncode != 0
    assert re.findall(rf"operator secret ({SECRET_ID}) does not exist", message(result)) == [secrets[0]]


def test_the_plan_passes_when_every_secret_exists(bootstrap, tmp_path):
    result = plan_with_listed(tmp_path, bootstrap, listed=[*granted_secrets(bootstrap), "UNRELATED"])
    assert result.returncode == 0, result.stderr
