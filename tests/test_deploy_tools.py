"""The plan summary and the post-deploy verification, on their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.plan_summary import summarize

from .conftest import ROOT


def change(address: str, *actions: str, **extra) -> dict:
    return {"address": address, "change": {"actions": list(actions), **extra}}


def test_summary_puts_destructive_changes_first():
    plan = {
        "resource_changes": [
            change("a.created", "create"),
            change("b.kept", "no-op"),
            change("c.replaced", "delete", "create"),
            change("d.deleted", "delete"),
            change("e.imported", "no-op", importing={"id": "x"}),
        ]
    }
    text = summarize(plan, "app-x")
    assert "1 to replace, 1 to delete, 1 to create, 1 to import" in text
    assert "2 destructive change(s)" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert [row.split("`")[1] for row in rows] == ["c.replaced", "d.deleted", "a.created", "e.imported"]
    assert "b.kept" not in text


def test_summary_of_no_changes():
    assert "No changes." in summarize({"resource_changes": [change("a", "no-op")]}, "app-x")


@pytest.mark.parametrize("content", ["not json", "[1, 2]"])
def test_summary_refuses_garbage_with_one_line(tmp_path, content):
    (tmp_path / "plan.json").write_text(content)
    result = subprocess.run([sys.executable, "-m", "tools.plan_summary", str(tmp_path / "plan.json"), "app-x"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


class _Health(BaseHTTPRequestHandler):
    failing: set[str] = set()

    def do_GET(self):
        self.send_response(503 if self.path.split("/")[1] in self.failing else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def fake_gcloud(tmp_path, not_ready: set[str]):
    """A `gcloud run services describe` that answers like Cloud Run's API."""
    script = tmp_path / "bin" / "gcloud"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'case " {" ".join(not_ready)} " in *" $4 "*) ready=False;; *) ready=True;; esac\n'
        'echo "{\\"status\\": {\\"conditions\\": [{\\"type\\": \\"Ready\\", \\"status\\": \\"$ready\\", \\"message\\": \\"boom\\"}],'
        ' \\"latestCreatedRevisionName\\": \\"r2\\", \\"latestReadyRevisionName\\": \\"r2\\"}}"\n'
    )
    script.chmod(0o755)
    return str(script.parent)


def verify(tmp_path, platform, env_name, base, not_ready=frozenset()) -> subprocess.CompletedProcess:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"service_urls": {"value": {s.name: f"{base}/{s.name}" for s in platform.services}}}))
    env = {**os.environ, "PATH": f"{fake_gcloud(tmp_path, set(not_ready))}:{os.environ['PATH']}", "VERIFY_ATTEMPTS": "2", "VERIFY_INTERVAL_SECONDS": "0"}
    return subprocess.run([sys.executable, "-m", "tools.verify_deploy", env_name, str(outputs)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_verify_passes_when_all_ready_and_healthy(tmp_path, platform, env_name, health_server):
    _Health.failing = set()
    result = verify(tmp_path, platform, env_name, f"http://127.0.0.1:{health_server.server_address[1]}")
    assert result.returncode == 0, result.stderr


def test_verify_names_an_unhealthy_service_and_the_rollback(tmp_path, platform, env_name, health_server):
    probed = next(s for s in platform.services if s.health_path)
    _Health.failing = {probed.name}
    result = verify(tmp_path, platform, env_name, f"http://127.0.0.1:{health_server.server_address[1]}")
    assert result.returncode == 1
    assert f"verify: {probed.name}: GET " in result.stderr and "503" in result.stderr
    assert "roll back:" in result.stderr


def test_verify_names_a_service_that_is_not_ready(tmp_path, platform, env_name, health_server):
    _Health.failing = set()
    stuck = platform.services[-1].name
    result = verify(tmp_path, platform, env_name, f"http://127.0.0.1:{health_server.server_address[1]}", not_ready={stuck})
    assert result.returncode == 1 and f"verify: {stuck}: not ready: boom" in result.stderr


def test_summary_shows_images_from_to_and_changed_attributes():
    """A recorded `tofu show -json` plan (OpenTofu's JSON output format): a
    deploy of new tags and a service added (the URL secret's version replaced)."""
    plan = json.loads((ROOT / "tests" / "fixtures" / "plan_image_rollout.json").read_text())
    text = summarize(plan, "app-production")
    images = text.split("Images (service: from → to):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert images == [
        "- `gateway` (mesh): `v1.0.0-aaaaaaa-u0000beef` → `v1.1.0-bbbbbbb-u0000beef`",
        "- `users-service` (users_service): `v1.0.0-aaaaaaa` → `v1.1.0-bbbbbbb`",
    ]
    attributes = text.split("Changed attributes (replacements first):\n", 1)[1].splitlines()
    assert attributes == [
        "- replace `google_secret_manager_secret_version.url-secret-all_0A1B2C3D`",
        "  - `name`: `(absent)` → `(known after apply)`",
        "  - `secret_data`: `(sensitive)` → `(sensitive)` (forces replacement)",
        "  - `version`: `(absent)` → `(known after apply)`",
        "- update `google_cloud_run_v2_service.gateway_ABC12345`",
        '  - `template[0].containers[0].image`: `"us-east4-docker.pkg.dev/p/r/mesh@sha256:1111"` → `"us-east4-docker.pkg.dev/p/r/mesh@sha256:2222"`',
        '  - `uri`: `"https://gateway-1.us-east4.run.app"` → `(known after apply)`',
        "- update `google_cloud_run_v2_service.users-service_DEF67890`",
        '  - `template[0].containers[0].image`: `"us-east4-docker.pkg.dev/p/r/users_service@sha256:3333"` → `(known after apply)`',
    ]
    assert "https://b" not in text, "a sensitive value is never shown"


def test_summary_is_capped_per_resource_and_in_all():
    before = {f"label_{index:03d}": "a" for index in range(40)}
    after = {key: "b" for key in before}
    plan = {"resource_changes": [change(f"google_storage_bucket.b{n}", "update", before={"labels": before}, after={"labels": after}) for n in range(200)]}
    text = summarize(plan, "app-x")
    assert "  - … 25 more changed attribute(s)" in text
    assert len(text) <= 15_000 + 200
    assert text.rstrip().endswith("`tofu show` of the saved plan has them all.")
