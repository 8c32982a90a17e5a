"""One stand-in for the parts of GitHub's REST API the workflow tools call,
used by the unit tests and the rehearsal alike. Its state is one JSON file
(the rehearsal's world keeps it across the workflow's steps):

    {"environments": {"OWNER/REPO/NAME": {...}}, "issues": [...], "requests": [...],
     "refusals": {"/repos/...": [403, {...}]}}

A path in `refusals` is answered with that status and body, whatever the method
(a token without the permission, GitHub down).

Answers as GitHub documents (docs.github.com/en/rest):
- GET /repos/O/R/environments/NAME: the stored environment, else 404
  ("Get an environment");
- GET /repos/O/R/issues?state=&labels=&per_page=&page=: open (or all) issues
  carrying every label named, newest first, paged ("List repository issues");
- POST /repos/O/R/issues {title, body, labels}: 201 and the issue, numbered
  from 1 ("Create an issue");
- PATCH /repos/O/R/issues/N {body, state, state_reason}: 200 ("Update an issue");
- POST /repos/O/R/issues/N/comments {body}: 201 ("Create an issue comment").
Anything else is 404 with GitHub's error shape.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}


def empty_state() -> dict[str, Any]:
    return {"environments": {}, "issues": [], "requests": [], "refusals": {}}


def answer(state: dict[str, Any], method: str, target: str, body: Any) -> tuple[int, Any]:
    """GitHub's status and JSON for one request; `state` is changed in place."""
    url = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(url.query))
    parts = url.path.strip("/").split("/")
    state["requests"].append({"method": method, "path": target, "body": body})
    if url.path in state["refusals"]:
        status, refusal = state["refusals"][url.path]
        return status, refusal
    if len(parts) < 4 or parts[0] != "repos":
        return 404, NOT_FOUND
    repository, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    if method == "GET" and rest[0] == "environments" and len(rest) == 2:
        found = state["environments"].get(f"{repository}/{urllib.parse.unquote(rest[1])}")
        return (200, found) if found else (404, NOT_FOUND)
    if rest[0] != "issues":
        return 404, NOT_FOUND
    issues = [i for i in state["issues"] if i["repository"] == repository]
    if method == "GET" and len(rest) == 1:
        wanted = {label for label in query.get("labels", "").split(",") if label}
        status = query.get("state", "open")
        listed = [i for i in reversed(issues) if (status == "all" or i["state"] == status) and wanted <= {label["name"] for label in i["labels"]}]
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        return 200, [public(i) for i in listed[(page - 1) * per_page : page * per_page]]
    if method == "POST" and len(rest) == 1:
        if not isinstance(body, dict) or not body.get("title"):
            return 422, {"message": "Validation Failed", "status": "422"}
        issue = {
            "repository": repository,
            "number": len(state["issues"]) + 1,
            "title": body["title"],
            "body": body.get("body", ""),
            "state": "open",
            "state_reason": None,
            "labels": [{"name": name} for name in body.get("labels", [])],
            "comments": [],
        }
        state["issues"].append(issue)
        return 201, public(issue)
    number = int(rest[1]) if len(rest) >= 2 and rest[1].isdigit() else None
    found = [i for i in issues if i["number"] == number]
    if not found:
        return 404, NOT_FOUND
    issue = found[0]
    if method == "PATCH" and len(rest) == 2:
        issue.update({key: body[key] for key in ("title", "body", "state", "state_reason") if key in body})
        return 200, public(issue)
    if method == "POST" and rest[2:] == ["comments"]:
        issue["comments"].append(body.get("body", ""))
        return 201, {"body": body.get("body", "")}
    return 404, NOT_FOUND


def public(issue: dict[str, Any]) -> dict[str, Any]:
    """The issue as GitHub shows it (the stand-in's own fields left out)."""
    return {key: value for key, value in issue.items() if key not in ("repository", "comments")}


class _Handler(BaseHTTPRequestHandler):
    server: FakeGitHub

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with self.server.lock:
            state = self.server.load()
            status, body = answer(state, self.command, self.path, json.loads(raw) if raw else None)
            state["requests"][-1]["authorization"] = self.headers.get("Authorization")
            self.server.save(state)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve

    def log_message(self, *args):
        pass


class FakeGitHub(ThreadingHTTPServer):
    """Serves `answer` on 127.0.0.1 in a thread; its state in memory, or in
    `state_file` when given (read and written on every request)."""

    def __init__(self, state_file: Path | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.state_file = state_file
        self.state = empty_state()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def load(self) -> dict[str, Any]:
        if self.state_file is None:
            return self.state
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else empty_state()

    def save(self, state: dict[str, Any]) -> None:
        if self.state_file is None:
            self.state = state
        else:
            self.state_file.write_text(json.dumps(state))
