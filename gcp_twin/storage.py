"""Cloud Storage with IAM: an authorizing front on fake-gcs-server.

fake-gcs-server (gcs_server.py) keeps buckets and objects and answers the
JSON and XML APIs as Google does (generations, preconditions, versions), but
has no IAM. The front sits before it on its own port: it names the caller
from the bearer token, asks `Iam` whether the caller holds the permission
Google's reference names for the method
(https://cloud.google.com/storage/docs/access-control/iam-json), answers 401
or 403 in Google's shape otherwise, and passes the request on unchanged. It
answers the bucket IAM methods itself (getIamPolicy, setIamPolicy,
testIamPermissions), since fake-gcs-server has none.

Endpoints for clients: `json_api` for OpenTofu's GCS backend
(GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT), `url` for Google's Python client
(`client_options={"api_endpoint": url}`).
"""

from __future__ import annotations

import email.parser
import email.policy
import http.client
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from . import gcs_server
from .iam import Iam, member_of

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "host", "content-length"}


@dataclass(frozen=True)
class Route:
    """What a request does, as Google's permission table sees it."""

    permission: str | None  # None: any caller (testIamPermissions)
    bucket: str | None
    project: str | None = None  # buckets.list and buckets.insert name the project
    kind: str = "object"  # "object" or "bucket": the wording of the denial
    answer: str | None = None  # a method the front answers itself


# (method, path regex, permission, kind, answered by the front)
# Source: https://cloud.google.com/storage/docs/access-control/iam-json
_ROUTES: list[tuple[str, re.Pattern[str], str | None, str, str | None]] = [
    (m, re.compile(p), perm, kind, answer)
    for m, p, perm, kind, answer in [
        ("GET", r"^/storage/v1/b/(?P<b>[^/]+)/iam/testPermissions$", None, "bucket", "testIamPermissions"),
        ("GET", r"^/storage/v1/b/(?P<b>[^/]+)/iam$", "storage.buckets.getIamPolicy", "bucket", "getIamPolicy"),
        ("PUT", r"^/storage/v1/b/(?P<b>[^/]+)/iam$", "storage.buckets.setIamPolicy", "bucket", "setIamPolicy"),
        ("GET", r"^/storage/v1/b$", "storage.buckets.list", "bucket", None),
        ("POST", r"^/storage/v1/b$", "storage.buckets.create", "bucket", None),
        ("GET", r"^/storage/v1/b/(?P<b>[^/]+)$", "storage.buckets.get", "bucket", None),
        ("PATCH", r"^/storage/v1/b/(?P<b>[^/]+)$", "storage.buckets.update", "bucket", None),
        ("PUT", r"^/storage/v1/b/(?P<b>[^/]+)$", "storage.buckets.update", "bucket", None),
        ("DELETE", r"^/storage/v1/b/(?P<b>[^/]+)$", "storage.buckets.delete", "bucket", None),
        ("GET", r"^/storage/v1/b/(?P<b>[^/]+)/o$", "storage.objects.list", "bucket", None),
        ("GET", r"^/storage/v1/b/(?P<b>[^/]+)/o/(?P<o>.+)$", "storage.objects.get", "object", None),
        ("PATCH", r"^/storage/v1/b/(?P<b>[^/]+)/o/(?P<o>.+)$", "storage.objects.update", "object", None),
        ("PUT", r"^/storage/v1/b/(?P<b>[^/]+)/o/(?P<o>.+)$", "storage.objects.update", "object", None),
        ("DELETE", r"^/storage/v1/b/(?P<b>[^/]+)/o/(?P<o>.+)$", "storage.objects.delete", "object", None),
        ("POST", r"^/upload/storage/v1/b/(?P<b>[^/]+)/o$", "storage.objects.create", "object", None),
        # The later requests of a resumable upload carry the session the
        # first one opened (its permission was checked then).
        ("PUT", r"^/upload/storage/v1/b/(?P<b>[^/]+)/o$", None, "object", None),
        ("GET", r"^/download/storage/v1/b/(?P<b>[^/]+)/o/(?P<o>.+)$", "storage.objects.get", "object", None),
        # The XML API's object reads (Go's client reads objects this way).
        ("GET", r"^/(?!storage/|upload/|download/)(?P<b>[^/]+)/(?P<o>.+)$", "storage.objects.get", "object", None),
        ("HEAD", r"^/(?!storage/|upload/|download/)(?P<b>[^/]+)/(?P<o>.+)$", "storage.objects.get", "object", None),
    ]
]


def route(method: str, path: str, query: dict[str, list[str]]) -> Route | None:
    for each_method, pattern, permission, kind, answer in _ROUTES:
        match = pattern.match(path) if each_method == method else None
        if match:
            bucket = unquote(match.group("b")) if "b" in pattern.groupindex else None
            project = query.get("project", [None])[0] if bucket is None else None
            return Route(permission, bucket, project, kind, answer)
    return None


def caller_name(member: str) -> str:
    """How Google names a caller in a denial: the email of a service account or user."""
    return member.split(":", 1)[-1]


def json_error(code: int, message: str, reason: str) -> bytes:
    """Cloud Storage's JSON error body (https://cloud.google.com/storage/docs/json_api/v1/status-codes)."""
    return json.dumps({"error": {"code": code, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}]}}).encode()


def denial(member: str | None, permission: str, kind: str) -> tuple[int, str]:
    """Google's 401 (no credentials) or 403 and its message, e.g.
    "planner@p.iam.gserviceaccount.com does not have storage.objects.create
    access to the Google Cloud Storage object. Permission
    'storage.objects.create' denied on resource (or it may not exist)."."""
    who = "Anonymous caller" if member is None else caller_name(member)
    message = f"{who} does not have {permission} access to the Google Cloud Storage {kind}. Permission '{permission}' denied on resource (or it may not exist)."
    return (401 if member is None else 403), message


@dataclass
class StorageTwin:
    """The front and the fake-gcs-server behind it."""

    backend: gcs_server.GcsEmulator
    iam: Iam
    url: str = ""
    bucket_projects: dict[str, str] = field(default_factory=dict)
    bucket_locations: dict[str, str] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def json_api(self) -> str:
        """The endpoint OpenTofu's GCS backend takes (GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT)."""
        return f"{self.url}/storage/v1/"

    def resources(self, bucket: str | None, project: str | None) -> list[str]:
        """The bucket's resource name and its ancestors', for IAM."""
        names = []
        if bucket is not None:
            names.append(f"projects/_/buckets/{bucket}")
            project = self.bucket_projects.get(bucket)
        if project is not None:
            names.append(f"projects/{project}")
        return names

    def create_bucket(self, project: str, name: str, *, versioning: bool = True, location: str = "US") -> None:
        """A bucket that exists before the test (made by hand, outside IAM)."""
        bucket = self.backend.client(project).create_bucket(name)
        if versioning:
            bucket.versioning_enabled = True
            bucket.patch()
        self.bucket_projects[name] = project
        self.bucket_locations[name] = location

    def reset(self) -> None:
        self.backend.reset()
        self.bucket_projects.clear()
        self.bucket_locations.clear()
        self.iam.policies.clear()
        self.iam.custom_roles.clear()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _upload_name(query: dict[str, list[str]], content_type: str, body: bytes) -> str | None:
    """The object an upload writes: `name=` in the query, or the metadata of
    a multipart or resumable upload."""
    if "name" in query:
        return query["name"][0]
    if content_type.startswith("multipart/"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        first = next(iter(message.iter_parts()), None)
        payload = first.get_payload(decode=True) if first is not None else None
        body = payload if isinstance(payload, bytes) else b""
    try:
        name = json.loads(body or b"{}").get("name")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def _make_handler(twin: StorageTwin) -> type[BaseHTTPRequestHandler]:
    backend = urlsplit(twin.backend.url)
    host, port = backend.hostname or "127.0.0.1", backend.port

    def connect(timeout: int) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(host, port, timeout=timeout)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def reply(self, status: int, body: bytes, content_type: str = "application/json; charset=UTF-8", headers: dict[str, str] | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def deny(self, member: str | None, permission: str, kind: str, xml: bool) -> None:
            status, message = denial(member, permission, kind)
            if xml:
                # The XML API's error (https://cloud.google.com/storage/docs/xml-api/reference-status).
                code = "AccessDenied" if status == 403 else "AuthenticationRequired"
                body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
                self.reply(status, body, "application/xml; charset=UTF-8")
            else:
                self.reply(status, json_error(status, message, "forbidden" if status == 403 else "required"))

        def handle_any(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            body = _read_body(self)
            where = route(self.command, parts.path, query)
            if where is None:
                self.reply(404, json_error(404, f"Not Found: {self.command} {parts.path} is not a Cloud Storage method the twin knows", "notFound"))
                return
            member = member_of(self.headers.get("Authorization"))
            resources = twin.resources(where.bucket, where.project)
            xml = not parts.path.startswith(("/storage/", "/upload/", "/download/"))
            if where.permission and not twin.iam.allows(member, where.permission, resources):
                self.deny(member, where.permission, where.kind, xml)
                return
            if where.permission == "storage.objects.create" and where.bucket is not None:
                # Replacing an object also needs storage.objects.delete
                # (iam-json: objects.insert); ifGenerationMatch=0 never replaces.
                name = _upload_name(query, self.headers.get("Content-Type", ""), body)
                if query.get("ifGenerationMatch") != ["0"] and name and self.found(f"/storage/v1/b/{quote(where.bucket, safe='')}/o/{quote(name, safe='')}"):
                    if not twin.iam.allows(member, "storage.objects.delete", resources):
                        self.deny(member, "storage.objects.delete", "object", xml)
                        return
            if where.answer:
                self.answer(where, member, resources, query, body)
                return
            if self.command == "POST" and where.project and where.bucket is None:
                created = json.loads(body or b"{}")
                self.forward(body)
                if self.forwarded_status == 200:
                    twin.bucket_projects[created["name"]] = where.project
                    twin.bucket_locations[created["name"]] = created.get("location", "US")
                return
            self.forward(body)

        def found(self, path: str) -> bool:
            """Whether fake-gcs-server has the bucket or object at `path`."""
            connection = connect(30)
            try:
                connection.request("GET", path)
                return connection.getresponse().status == 200
            finally:
                connection.close()

        def answer(self, where: Route, member: str | None, resources: list[str], query: dict[str, list[str]], body: bytes) -> None:
            assert where.bucket is not None  # every answered route names one
            if not self.found(f"/storage/v1/b/{quote(where.bucket, safe='')}"):
                self.reply(404, json_error(404, "The specified bucket does not exist.", "notFound"))
                return
            resource = resources[0]
            if where.answer == "testIamPermissions":
                # https://cloud.google.com/storage/docs/json_api/v1/buckets/testIamPermissions
                held = [p for p in query.get("permissions", []) if twin.iam.allows(member, p, resources)]
                self.reply(200, json.dumps({"kind": "storage#testIamPermissionsResponse", "permissions": held}).encode())
                return
            if where.answer == "setIamPolicy":
                twin.iam.set_policy(resource, json.loads(body or b"{}").get("bindings", []))
            # https://cloud.google.com/storage/docs/json_api/v1/buckets/getIamPolicy
            policy = {"kind": "storage#policy", "resourceId": resource, "version": 1, "etag": "CAE=", "bindings": twin.iam.policy(resource)}
            self.reply(200, json.dumps(policy).encode())

        forwarded_status = 0

        def forward(self, body: bytes) -> None:
            connection = connect(120)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection.request(self.command, self.path, body=body if body or self.command in ("POST", "PUT", "PATCH") else None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if self.command == "GET" and self.path.startswith("/storage/v1/b") and "/o" not in self.path.split("?")[0]:
                    data = gcs_server.with_locations(data, twin.bucket_locations)
                self.forwarded_status = response.status
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value.replace(twin.backend.url, twin.url))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                connection.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    return Handler


def start() -> StorageTwin:
    """fake-gcs-server and the front before it, each on a free loopback port."""
    backend = gcs_server.start()
    twin = StorageTwin(backend=backend, iam=Iam())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(twin))
    server.daemon_threads = True
    twin.server = server
    twin.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return twin


def stop(twin: StorageTwin) -> None:
    if twin.server is not None:
        twin.server.shutdown()
        twin.server.server_close()
    gcs_server.stop(twin.backend)
