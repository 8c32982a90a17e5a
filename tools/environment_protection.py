"""Before the deployer's token is requested: does the caller's GitHub
environment of this name exist with required reviewers, which administrators
cannot bypass? GitHub creates a missing environment on first use, without
protection rules, and on the Free, Pro and Team plans required reviewers exist
only for public repositories: without this check the one approval may not exist.

    python -m tools.environment_protection ENV

Reads `GET /repos/{owner}/{repo}/environments/{ENV}` of GitHub's REST API
(`protection_rules`, `can_admins_bypass`) for $GITHUB_REPOSITORY (in a called
workflow, the caller's) with $GITHUB_TOKEN (the job needs `actions: read`), at
$ENVIRONMENT_CHECK_API_URL or $GITHUB_API_URL. An environment configured
`protected: false` (e.g. staging) is not checked. Exit 0, or 2 with one line.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from platform_config import load_platform
from tools.cli import InputError, run_tool

TIMEOUT_SECONDS = 30


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


def fetch_environment(api_url: str, repository: str, name: str, token: str) -> dict[str, Any] | None:
    """The environment as GitHub's REST API describes it; None when it does not exist (404)."""
    url = f"{api_url.rstrip('/')}/repos/{repository}/environments/{urllib.parse.quote(name, safe='')}"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise InputError(f"GitHub answered {error.code} for {url}; the job needs `permissions: actions: read`") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        raise InputError(f"cannot read {url}: {error}") from None
    if not isinstance(body, dict):
        raise InputError(f"{url} did not answer a JSON object")
    return body


def check(env_name: str) -> str:
    """The line to print when the environment may be deployed; InputError otherwise."""
    platform = load_platform()
    if env_name not in platform.environments:
        raise InputError(f"unknown environment {env_name!r}; configured: {', '.join(platform.environments)}")
    if not platform.environments[env_name].protected:
        return f"{env_name} is not protected (environments.{env_name}.protected: false): its GitHub environment is not checked"
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in repository:
        raise InputError("GITHUB_REPOSITORY is not set to OWNER/REPO")
    api_url = os.environ.get("ENVIRONMENT_CHECK_API_URL") or os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    environment = fetch_environment(api_url, repository, env_name, os.environ.get("GITHUB_TOKEN", ""))
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
