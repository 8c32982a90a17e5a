"""GitHub's REST API for the workflow tools: one JSON call at a time, each
failure one line (InputError).

The repository is $GITHUB_REPOSITORY (in a called workflow, the caller's),
the token $GITHUB_TOKEN; the API is $GITHUB_API_URL, or $GITHUB_API_STANDIN_URL
where a rehearsal or a test answers for GitHub.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tools.cli import InputError

TIMEOUT_SECONDS = 30
# https://docs.github.com/en/rest/about-the-rest-api/api-versions
API_VERSION = "2022-11-28"


class NotFound(InputError):
    """GitHub answered 404."""


def repository() -> str:
    name = os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in name:
        raise InputError("GITHUB_REPOSITORY is not set to OWNER/REPO")
    return name


def api_url() -> str:
    return (os.environ.get("GITHUB_API_STANDIN_URL") or os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def github_message(error: urllib.error.HTTPError) -> str:
    """The `message` of GitHub's error body, shortened, or the HTTP reason."""
    try:
        body = json.loads(error.read().decode("utf-8"))
    except (OSError, ValueError):
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(message or error.reason).split())[:200]


def call(method: str, path: str, body: dict[str, Any] | None = None, *, permission: str) -> Any:
    """The JSON GitHub answers to METHOD `path` (from /repos/...); NotFound on
    404, InputError naming `permission` (the job's `permissions:` entry it
    needs) on any other refusal."""
    url = f"{api_url()}{path}"
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode("utf-8"),
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "Content-Type": "application/json"},
    )
    token = os.environ.get("GITHUB_TOKEN", "")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            text = response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise NotFound(f"GitHub answered 404 for {method} {url}") from None
        hint = f"; the job needs `permissions: {permission}`" if error.code in (401, 403) else ""
        raise InputError(f"GitHub answered {error.code} ({github_message(error)}) for {method} {url}{hint}") from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise InputError(f"cannot reach {url}: {error}") from None
    try:
        return json.loads(text) if text else None
    except ValueError:
        raise InputError(f"{method} {url} did not answer JSON") from None
