"""A fake of the Google REST APIs the preflight calls, for tests: an
http.server on 127.0.0.1 (free port) in a thread, answering the documented
request and response shapes, so Google's real client libraries can be pointed
at it (PREFLIGHT_API_ENDPOINT). Cloud Storage requests are passed on to
fake-gcs-server (STORAGE_EMULATOR_HOST points here), except the bucket's
testIamPermissions, which fake-gcs-server lacks (it has no IAM); and
`versions=True` (as Google's Python client sends it, which Google accepts)
is passed on as `versions=true`, the only spelling fake-gcs-server reads.

Shapes, by API reference:
- errors: https://cloud.google.com/apis/design/errors#http_mapping
  {"error": {"code": 404, "message": ..., "status": "NOT_FOUND"}}
- Artifact Registry repositories.get:
  https://cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories/get
- Secret Manager secrets.get, secrets.versions.list, secrets.testIamPermissions:
  https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/get
  https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/list
  https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/testIamPermissions
- Service Usage services.batchGet:
  https://cloud.google.com/service-usage/docs/reference/rest/v1/services/batchGet
- Resource Manager v3 projects.testIamPermissions, projects.getIamPolicy:
  https://cloud.google.com/resource-manager/reference/rest/v3/projects/testIamPermissions
  https://cloud.google.com/resource-manager/reference/rest/v3/projects/getIamPolicy
- IAM projects.serviceAccounts.get, .testIamPermissions:
  https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/get
  https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/testIamPermissions
- Cloud Run v2 projects.locations.services.get:
  https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/get
- Cloud Storage buckets.testIamPermissions:
  https://cloud.google.com/storage/docs/json_api/v1/buckets/testIamPermissions
"""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from gcp_twin import gcs_server
from platform_config import Platform, runtime_account_id, url_secret_ids
from platform_config.naming import STATE_OBJECT, app_state_prefix, ci_role_name, data_bucket_names, service_account_email

PROJECT_NUMBER = "123456789012"
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


@dataclass
class FakeGoogle:
    """What exists in the fake projects; tests fill it and read nothing back."""

    gcs_url: str = ""
    # projects/P/locations/L/repositories/R -> format (DOCKER, MAVEN, ...)
    repositories: dict[str, str] = field(default_factory=dict)
    # projects/P/secrets/S -> states of its versions (ENABLED, DISABLED, DESTROYED)
    secrets: dict[str, list[str]] = field(default_factory=dict)
    enabled_apis: dict[str, set[str]] = field(default_factory=dict)  # project -> APIs
    service_accounts: set[str] = field(default_factory=set)  # emails
    run_services: set[str] = field(default_factory=set)  # projects/P/locations/L/services/S
    # More of a service's GET answer (Service resource fields: latestReadyRevision, trafficStatuses, ...).
    run_service_fields: dict[str, dict] = field(default_factory=dict)
    bindings: dict[str, list[dict]] = field(default_factory=dict)  # project -> IAM policy bindings
    denied_permissions: set[str] = field(default_factory=set)  # testIamPermissions leaves them out
    unknown_permissions: set[str] = field(default_factory=set)  # testIamPermissions answers 400
    # Resource names answered with 403: projects/P/secrets/S, ..., and for
    # Cloud Storage b/BUCKET (its settings) and b/BUCKET/o (its objects).
    forbidden: set[str] = field(default_factory=set)
    bucket_locations: dict[str, str] = field(default_factory=dict)  # bucket -> its location (fake-gcs-server keeps none)
    garbage: bool = False  # every answer is 200 with a body that is not JSON

    def reset(self) -> None:
        """Empty again, still in front of the same fake-gcs-server."""
        empty = FakeGoogle(gcs_url=self.gcs_url)
        for each in fields(self):
            setattr(self, each.name, getattr(empty, each.name))

    def provision(self, platform: Platform, env_name: str) -> None:
        """An environment as its bootstrap apply and its operators leave it
        (the buckets are fake-gcs-server's): registry, every secret a service
        reads and every URL secret with an enabled version, the APIs, the
        runtime accounts, the deployer's configured roles."""
        environment = platform.environments[env_name]
        project = environment.project_id
        registry = f"projects/{project}/locations/{environment.region}/repositories/{environment.registry_repository}"
        self.repositories[registry] = "DOCKER"
        for secret in operator_secrets_read(platform) + url_secret_ids(platform, env_name):
            self.secrets[f"projects/{project}/secrets/{secret}"] = ["DISABLED", "ENABLED"]
        self.enabled_apis[project] = set(platform.apis)
        self.service_accounts.update(runtime_email(platform, s.name, env_name) for s in platform.services)
        deployer = f"serviceAccount:{service_account_email(environment.deployer_account_id, project)}"
        roles = [*platform.deployer_project_roles, ci_role_name(project, "deployer", env_name)]
        self.bindings[project] = [{"role": role, "members": [deployer]} for role in roles]


def provision_buckets(gcs, fake: FakeGoogle, platform: Platform, env_name: str, *, state_bucket: bool = True) -> None:
    """The buckets as the bootstrap apply leaves them, in fake-gcs-server
    (`gcs`: gcp_twin.gcs_server's emulator): data buckets, and the versioned
    state bucket with the app state that `make seed-state` creates."""
    environment = platform.environments[env_name]
    client = gcs.client(environment.project_id)
    for key, name in data_bucket_names(platform, env_name).items():
        client.create_bucket(name)
        fake.bucket_locations[name] = platform.data_buckets[key].location or environment.region
    if state_bucket:
        state = client.bucket(environment.state_bucket)
        state.versioning_enabled = True
        state.create()
        state.blob(f"{app_state_prefix(env_name)}/{STATE_OBJECT}").upload_from_string(json.dumps({"version": 4, "resources": []}))
        fake.bucket_locations[state.name] = environment.state_bucket_location or environment.region


def operator_secrets_read(platform: Platform) -> list[str]:
    return sorted({secret for s in platform.services for secret in s.secrets.values()})


def runtime_email(platform: Platform, service: str, env_name: str) -> str:
    return service_account_email(runtime_account_id(service, env_name), platform.environments[env_name].project_id)


def _error(code: int, message: str) -> tuple[int, dict]:
    return code, {"error": {"code": code, "message": message, "status": STATUS[code]}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGoogle
    protocol_version = "HTTP/1.1"  # keep-alive: the clients reuse connections
    disable_nagle_algorithm = True  # headers and body are separate writes

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def do_PATCH(self) -> None:
        self._answer("PATCH")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.fake.garbage:
            return self._send(200, b"<html>502 gateway says hello</html>", "text/html")
        bucket_iam = re.fullmatch(r"/storage/v1/b/([^/]+)/iam/testPermissions", path)
        if bucket_iam:
            return self._json(*self._granted(query.get("permissions", []), f"b/{bucket_iam[1]}", storage=True))
        bucket_or_objects = re.fullmatch(r"/storage/v1/(b/[^/]+(?:/o)?)", path)
        if bucket_or_objects and bucket_or_objects[1] in self.fake.forbidden:
            return self._json(*_error(403, "caller does not have storage.buckets.get access"))
        if path.startswith(("/storage/", "/upload/", "/download/")):
            return self._to_gcs(method, body)
        if path == "/token":  # OAuth 2.0 token endpoint (RFC 6749 section 5.2): this fake refuses every grant
            return self._json(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        payload = json.loads(body) if body else {}
        self._json(*self._route(method, path, query, payload))

    def _route(self, method: str, path: str, query: dict, payload: dict) -> tuple[int, dict]:
        fake = self.fake
        name, _, verb = path.lstrip("/").partition(":")
        name = name.split("/", 1)[1]  # without the version (v1, v2, v3)
        if name in fake.forbidden or name.rsplit("/versions", 1)[0] in fake.forbidden:
            return _error(403, f"Permission denied on resource '{name}' (or it may not exist).")
        if verb == "testIamPermissions":
            return self._granted(payload.get("permissions", []), name)
        if verb == "getIamPolicy":
            project = name.split("/")[1]
            return 200, {"version": 3, "etag": "BwYAAAAAAAA=", "bindings": fake.bindings.get(project, [])}
        if verb == "batchGet":
            project = name.split("/")[1]
            enabled = fake.enabled_apis.get(project, set())
            services = [
                {
                    "name": f"projects/{PROJECT_NUMBER}/services/{api}",
                    "parent": f"projects/{PROJECT_NUMBER}",
                    "config": {"name": api},
                    "state": "ENABLED" if api in enabled else "DISABLED",
                }
                for api in (n.rsplit("/", 1)[1] for n in query.get("names", []))
            ]
            return 200, {"services": services}
        if "/repositories/" in name:
            if name not in fake.repositories:
                return _error(404, f"Requested entity was not found: {name}")
            return 200, {"name": name, "format": fake.repositories[name]}
        if name.endswith("/versions") and name.rsplit("/versions", 1)[0] in fake.secrets:
            states = fake.secrets[name.rsplit("/versions", 1)[0]]
            wanted = query.get("filter", [""])[0].removeprefix("state:")
            versions = [{"name": f"{name}/{index + 1}", "state": state} for index, state in enumerate(states) if not wanted or state == wanted]
            return 200, {"versions": versions[:1], "totalSize": len(versions)}
        if "/secrets/" in name:
            if name not in fake.secrets:
                return _error(404, f"Secret [{name}] not found or has no versions.")
            return 200, {"name": name, "replication": {"automatic": {}}, "createTime": "2026-01-01T00:00:00Z"}
        if "/serviceAccounts/" in name:
            email = name.rsplit("/", 1)[1]
            if email not in fake.service_accounts:
                return _error(404, f"Unknown service account {email}")
            return 200, {"name": name, "email": email, "projectId": name.split("/")[1], "uniqueId": "1"}
        if "/services/" in name:
            if name not in fake.run_services:
                return _error(404, f"Resource '{name.rsplit('/', 1)[1]}' of kind 'SERVICE' does not exist.")
            return 200, {"name": name, "uri": f"https://{name.rsplit('/', 1)[1]}-{PROJECT_NUMBER}.a.run.app", **fake.run_service_fields.get(name, {})}
        return _error(404, f"the fake does not serve {method} {path}")

    def _granted(self, permissions: list[str], resource: str, storage: bool = False) -> tuple[int, dict]:
        if resource in self.fake.forbidden:
            return _error(403, "The caller does not have permission")
        unknown = [p for p in permissions if p in self.fake.unknown_permissions]
        if unknown:
            return _error(400, f"Permission {unknown[0]} is not valid for this resource.")
        granted = [p for p in permissions if p not in self.fake.denied_permissions]
        extra = {"kind": "storage#testIamPermissionsResponse"} if storage else {}
        return 200, {**extra, "permissions": granted} if granted else extra

    def _to_gcs(self, method: str, body: bytes) -> None:
        path = re.sub(r"([?&]versions=)True\b", r"\1true", self.path)
        request = urllib.request.Request(f"{self.fake.gcs_url}{path}", data=body or None, method=method)
        for header in ("Content-Type", "Range"):
            if self.headers.get(header):
                request.add_header(header, self.headers[header])
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, content, kind = response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, content, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        if method == "GET" and re.fullmatch(r"/storage/v1/b(/[^/]+)?", urlsplit(self.path).path):
            content = gcs_server.with_locations(content, self.fake.bucket_locations)
        self._send(status, content, kind)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, content: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


@dataclass
class FakeServer:
    url: str
    fake: FakeGoogle
    server: ThreadingHTTPServer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start(gcs_url: str) -> FakeServer:
    fake = FakeGoogle(gcs_url=gcs_url)
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return FakeServer(f"http://127.0.0.1:{server.server_address[1]}", fake, server)


class SilentServer:
    """Accepts connections (the kernel does) and never answers: a hung API."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def close(self) -> None:
        self.socket.close()
