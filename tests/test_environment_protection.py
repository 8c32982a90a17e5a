"""The deploy stops before the deployer's token unless the caller's GitHub
environment has required reviewers that administrators cannot bypass
(tools/environment_protection.py), against recorded REST API answers."""

from __future__ import annotations

import copy

import pytest

from tools.environment_protection import main

from .fake_github import NOT_FOUND, empty_state

REPOSITORY = "Peleke/MindMirror"

# GitHub's REST API, "Deployment environments" → "Get an environment"
# (docs.github.com/en/rest/deployments/environments#get-an-environment):
# the documented example response (users and teams shortened to the fields
# shown), plus `can_admins_bypass`, a field of the documented schema (default true).
DOCUMENTED = {
    "id": 161088068,
    "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4",
    "name": "staging",
    "url": "https://api.github.com/repos/github/hello-world/environments/staging",
    "html_url": "https://github.com/github/hello-world/deployments/activity_log?environments_filter=staging",
    "created_at": "2020-11-23T22:00:40Z",
    "updated_at": "2020-11-23T22:00:40Z",
    "can_admins_bypass": True,
    "protection_rules": [
        {"id": 3736, "node_id": "MDQ6R2F0ZTM3MzY=", "type": "wait_timer", "wait_timer": 30},
        {
            "id": 3755,
            "node_id": "MDQ6R2F0ZTM3NTU=",
            "prevent_self_review": False,
            "type": "required_reviewers",
            "reviewers": [
                {"type": "User", "reviewer": {"login": "octocat", "id": 1, "type": "User"}},
                {"type": "Team", "reviewer": {"id": 1, "name": "Justice League", "slug": "justice-league"}},
            ],
        },
        {"id": 3756, "node_id": "MDQ6R2F0ZTM3NTY=", "type": "branch_policy"},
    ],
    "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
}
# What GitHub answers for an environment it created on first use: no rules.
CREATED_ON_FIRST_USE = {**DOCUMENTED, "protection_rules": [], "deployment_branch_policy": None}


def variant(**changes) -> dict:
    answer = copy.deepcopy(DOCUMENTED)
    answer.update(changes)
    return answer


@pytest.fixture
def github(fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    return fake_github


@pytest.fixture
def answer(github):

    def set_answer(env_name: str, status: int, body: dict) -> None:
        github.state = empty_state()
        if status == 200:
            github.state["environments"][f"{REPOSITORY}/{env_name}"] = body
        elif status != 404:
            github.state["refusals"][f"/repos/{REPOSITORY}/environments/{env_name}"] = [status, body]

    return set_answer


def protected_environments(platform) -> list[str]:
    return [name for name, environment in platform.environments.items() if environment.protected]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, variant(can_admins_bypass=False), None),
        (200, DOCUMENTED, "lets administrators bypass its reviewers"),
        (200, variant(protection_rules=[r for r in DOCUMENTED["protection_rules"] if r["type"] != "required_reviewers"]), "has no required reviewers"),
        (200, variant(protection_rules=[{**DOCUMENTED["protection_rules"][1], "reviewers": []}], can_admins_bypass=False), "has no required reviewers"),
        (200, CREATED_ON_FIRST_USE, "has no required reviewers"),
        (200, {k: v for k, v in variant(can_admins_bypass=False).items() if k != "protection_rules"}, "has no required reviewers"),
        (200, {k: v for k, v in DOCUMENTED.items() if k != "can_admins_bypass"}, "lets administrators bypass"),
        (404, NOT_FOUND, "does not exist in Peleke/MindMirror"),
        (403, {"message": "Resource not accessible by integration"}, "answered 403"),
    ],
)
def test_only_an_environment_with_unbypassable_reviewers_passes(platform, answer, github, capsys, status, body, message):
    environments = protected_environments(platform)
    assert environments, "the default configuration protects production"
    for env_name in environments:
        answer(env_name, status, {**body, "name": env_name} if status == 200 else body)
        code = main([env_name])
        out, err = capsys.readouterr()
        if message is None:
            assert code == 0 and "required reviewers, no administrator bypass" in out and not err
        else:
            assert code == 2 and not out
            [line] = err.splitlines()
            assert line.startswith("error: environment_protection: ") and message in line, line
        request = github.state["requests"][-1]
        assert (request["method"], request["path"], request["authorization"]) == ("GET", f"/repos/{REPOSITORY}/environments/{env_name}", "Bearer ghs_example")


def test_an_unprotected_environment_is_not_asked_about(platform, answer, github, capsys):
    unprotected = [name for name, environment in platform.environments.items() if not environment.protected]
    for env_name in unprotected:
        assert main([env_name]) == 0
        assert f"{env_name} is not protected" in capsys.readouterr().out
    assert not github.state["requests"]


@pytest.mark.parametrize("argv", [[], ["a", "b"], ["no-such-environment"]])
def test_bad_arguments_are_one_line(answer, capsys, argv):
    assert main(argv) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
