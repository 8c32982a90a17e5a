"""Before the deployer's token is requested: does the caller's GitHub
environment of this name exist with required reviewers, which administrators
cannot bypass? GitHub creates a missing environment on first use, without
protection rules, and on the Free, Pro and Team plans required reviewers exist
only for public repositories: without this check the one approval may not exist.

    python -m tools.environment_protection ENV

Reads `GET /repos/{owner}/{repo}/environments/{ENV}` of GitHub's REST API
(`protection_rules`, `can_admins_bypass`) for $GITHUB_REPOSITORY (in a called
workflow, the caller's) with $GITHUB_TOKEN (the job needs `actions: read`), as tools/github_api.py says. An environment configured
`protected: false` (e.g. staging) is not checked. Exit 0, or 2 with one line.
"""

from __future__ import annotations

import sys
from typing import Any

from platform_config import load_platform
from tools import github_api
from tools.cli import InputError, run_tool


def problem(environment: dict[str, Any], name: str, repository: str) -> str | None:
    """What is wrong with the environment GitHub describes, or None."""
    rules = environment.get("protection_rules") or []
    reviewers = [rule for rule in rules if isinstance(rule, dict) and rule.get("type") == "required_reviewers" and rule.get("reviewers")]
    settings = f"{repository}: Settings → Environments → {name}"
    if not reviewers:
        return f"GitHub environment {name!r} of {repository} has no required reviewers, so nobody approves the apply; add them ({settings})"
    # GitHub's default is true: administrators may deploy without an approval.
    if environment.get("can_admins_bypass", True) is not False:
        return f'GitHub environment {name!r} of {repository} lets administrators bypass its reviewers; untick "Allow administrators to bypass" ({settings})'
    return None


def fetch_environment(repository: str, name: str) -> dict[str, Any] | None:
    """The environment as GitHub's REST API describes it; None when it does not exist (404)."""
    try:
        body = github_api.call("GET", f"/repos/{repository}/environments/{github_api.quote(name)}", permission="actions: read")
    except github_api.NotFound:
        return None
    if not isinstance(body, dict):
        raise InputError(f"GitHub's environment {name!r} of {repository} is not a JSON object")
    return body


def check(env_name: str) -> str:
    """The line to print when the environment may be deployed; InputError otherwise."""
    platform = load_platform()
    if env_name not in platform.environments:
        raise InputError(f"unknown environment {env_name!r}; configured: {', '.join(platform.environments)}")
    if not platform.environments[env_name].protected:
        return f"{env_name} is not protected (environments.{env_name}.protected: false): its GitHub environment is not checked"
    repository = github_api.repository()
    environment = fetch_environment(repository, env_name)
    if environment is None:
        raise InputError(
            f"GitHub environment {env_name!r} does not exist in {repository}; create it with required reviewers "
            f"({repository}: Settings → Environments → New environment)"
        )
    found = problem(environment, env_name, repository)
    if found:
        raise InputError(found)
    return f"GitHub environment {env_name!r} of {repository}: required reviewers, no administrator bypass"


def main(argv: list[str]) -> int:
    if argv in (["--help"], ["-h"]):
        print(__doc__)
        return 0

    def produce() -> list[str]:
        if len(argv) != 1:
            raise InputError("usage: python -m tools.environment_protection ENV; see --help")
        return [check(argv[0])]

    return run_tool("environment_protection", produce)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
