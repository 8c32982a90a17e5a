"""The drift check's issues, one of each kind per environment, labelled
`drift` where GitHub keeps the label: opened or updated while there is something to see, closed with a
comment when the next check is clean.

    python -m tools.drift_issue ENV drift BODY_FILE   # "Drift in ENV": opened or its body replaced
    python -m tools.drift_issue ENV clean             # "Drift in ENV" closed
    python -m tools.drift_issue ENV failed            # "Drift check failed in ENV": opened or updated

Whatever the outcome, a check that ran (drift or clean) closes the open
"Drift check failed in ENV". $RUN_URL (the run's page) goes into comments and
the failure's body. GitHub's REST API as tools/github_api.py says; the job
needs `permissions: issues: write`. Exit 0 with one line per issue touched,
or 2 with one line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tools import github_api
from tools.cli import InputError, run_tool

LABEL = "drift"
PERMISSION = "issues: write"
OUTCOMES = ("drift", "clean", "failed")


def drift_title(env_name: str) -> str:
    return f"Drift in {env_name}"


def failure_title(env_name: str) -> str:
    return f"Drift check failed in {env_name}"


def marker(title: str) -> str:
    """A hidden line in the body of every issue this tool writes: an issue a
    person opened with the same title is never taken for it."""
    return f"<!-- drift check: {title} -->"


def open_issue(repository: str, title: str) -> dict[str, Any] | None:
    """The open issue this tool wrote with exactly this title (pull requests
    excluded). Not looked up by label: GitHub silently drops the labels of a
    new issue when the token cannot push ("Create an issue"), as the drift
    job's cannot."""
    page = 1
    while True:
        found = github_api.call("GET", f"/repos/{repository}/issues?state=open&per_page=100&page={page}", permission=PERMISSION)
        if not isinstance(found, list):
            raise InputError(f"GitHub's issue list of {repository} is not a JSON list")
        for issue in found:
            if isinstance(issue, dict) and issue.get("title") == title and "pull_request" not in issue and marker(title) in (issue.get("body") or ""):
                return issue
        if len(found) < 100:
            return None
        page += 1


def open_or_update(repository: str, title: str, body: str) -> str:
    body = f"{body.rstrip()}\n\n{marker(title)}\n"
    issue = open_issue(repository, title)
    if issue:
        github_api.call("PATCH", f"/repos/{repository}/issues/{issue['number']}", {"body": body}, permission=PERMISSION)
        return f"updated #{issue['number']} {title!r}"
    created = github_api.call("POST", f"/repos/{repository}/issues", {"title": title, "body": body, "labels": [LABEL]}, permission=PERMISSION)
    return f"opened #{created['number']} {title!r}" if isinstance(created, dict) and "number" in created else f"opened {title!r}"


def close(repository: str, title: str, comment: str) -> list[str]:
    issue = open_issue(repository, title)
    if not issue:
        return []
    number = issue["number"]
    github_api.call("POST", f"/repos/{repository}/issues/{number}/comments", {"body": comment}, permission=PERMISSION)
    github_api.call("PATCH", f"/repos/{repository}/issues/{number}", {"state": "closed", "state_reason": "completed"}, permission=PERMISSION)
    return [f"closed #{number} {title!r}"]


def report(env_name: str, outcome: str, body_file: str | None) -> list[str]:
    repository = github_api.repository()
    run_url = os.environ.get("RUN_URL", "(the run's URL was not given)")
    if outcome == "failed":
        body = (
            f"The daily drift check of {env_name} failed: {run_url}\n\n"
            f"Until it passes again, drift in {env_name} goes unseen. Read the failed step's log; "
            'README, "Respond to drift", says what each failure means. This issue closes itself when a check runs.'
        )
        return [open_or_update(repository, failure_title(env_name), body)]
    done = close(repository, failure_title(env_name), f"The drift check ran again: {run_url}")
    if outcome == "clean":
        return done + close(repository, drift_title(env_name), f"No drift any more: {run_url}") or [f"no drift in {env_name}, no issue open"]
    if not body_file:
        raise InputError("drift needs BODY_FILE, the report to show")
    try:
        body = Path(body_file).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read {body_file} ({error.strerror})") from None
    return done + [open_or_update(repository, drift_title(env_name), body)]


def main(argv: list[str]) -> int:
    if argv in (["--help"], ["-h"]):
        print(__doc__)
        return 0

    def produce() -> list[str]:
        if len(argv) not in (2, 3) or argv[1] not in OUTCOMES:
            raise InputError("usage: python -m tools.drift_issue ENV drift|clean|failed [BODY_FILE]; see --help")
        return report(argv[0], argv[1], argv[2] if len(argv) == 3 else None)

    return run_tool("drift_issue", produce)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
