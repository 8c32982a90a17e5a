"""The synthesized GCS backends, exercised by a real engine (OpenTofu, or
Terraform where only that is installed) against a real GCS API (emulator).

The configurations here hold only a backend, a built-in `terraform_data`
resource and an output: no provider download is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ENGINE = shutil.which("tofu") or shutil.which("terraform")
pytestmark = pytest.mark.skipif(
    ENGINE is None,
    reason="neither tofu nor terraform is installed: the real-backend tests cannot run on this machine",
)


def engine_env(emulator, tmp_path: Path) -> dict[str, str]:
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text("")
    return {
        **os.environ,
        "GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT": emulator.json_api,
        "GOOGLE_OAUTH_ACCESS_TOKEN": "emulator-needs-no-token",
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def write_config(directory: Path, backend: dict, marker: Path | None = None, sleep: int = 0) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    resource = {"triggers_replace": "v1"}
    if marker:
        # Holds the state lock for `sleep` seconds, after telling the test it started.
        resource["provisioner"] = [{"local-exec": {"command": f"touch {marker} && sleep {sleep}"}}]
    config = {
        "terraform": {"backend": backend},
        "resource": {"terraform_data": {"probe": resource}},
        "output": {"probe_id": {"value": "${terraform_data.probe.id}"}},
    }
    (directory / "main.tf.json").write_text(json.dumps(config))


def run(directory: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ENGINE, *args], cwd=directory, env=env, capture_output=True, text=True, timeout=300)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def versioned_bucket(emulator, name: str):
    bucket = emulator.client("mindmirror-prod").create_bucket(name)
    bucket.versioning_enabled = True
    bucket.patch()
    return bucket


def test_app_backend_stores_state_under_its_prefix(empty_gcs, stacks, tmp_path):
    backend = stacks["app-production"]["terraform"]["backend"]
    bucket = versioned_bucket(empty_gcs, backend["gcs"]["bucket"])
    env = engine_env(empty_gcs, tmp_path)
    write_config(tmp_path / "app", backend)
    ok(run(tmp_path / "app", env, "init", "-input=false"))
    ok(run(tmp_path / "app", env, "apply", "-auto-approve", "-input=false"))
    names = [blob.name for blob in empty_gcs.client("mindmirror-prod").list_blobs(bucket.name)]
    assert names == ["app/production/default.tfstate"]
    state = json.loads(bucket.blob("app/production/default.tfstate").download_as_bytes())
    assert "probe_id" in state["outputs"]


def test_second_apply_is_refused_while_the_lock_is_held(empty_gcs, stacks, tmp_path):
    backend = stacks["app-staging"]["terraform"]["backend"]
    bucket = versioned_bucket(empty_gcs, backend["gcs"]["bucket"])
    env = engine_env(empty_gcs, tmp_path)
    marker = tmp_path / "first-apply-holds-lock"
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    write_config(first_dir, backend, marker=marker, sleep=5)
    write_config(second_dir, backend)
    ok(run(first_dir, env, "init", "-input=false"))
    ok(run(second_dir, env, "init", "-input=false"))
    first = subprocess.Popen(
        [ENGINE, "apply", "-auto-approve", "-input=false"], cwd=first_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first apply never started"
            time.sleep(0.2)
        assert bucket.blob("app/staging/default.tflock").exists()
        second = run(second_dir, env, "apply", "-auto-approve", "-input=false", "-lock-timeout=0s")
        assert second.returncode != 0
        assert "Error acquiring the state lock" in second.stderr
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert not bucket.blob("app/staging/default.tflock").exists(), "the lock outlived the apply"


def test_bootstrap_state_moves_into_the_bucket_intact(empty_gcs, stacks, variant, tmp_path):
    local_backend = stacks["bootstrap-production"]["terraform"]["backend"]
    gcs_backend = variant["bootstrap-production"]["terraform"]["backend"]
    bucket = versioned_bucket(empty_gcs, gcs_backend["gcs"]["bucket"])
    env = engine_env(empty_gcs, tmp_path)
    stack_dir = tmp_path / "bootstrap-production"
    write_config(stack_dir, local_backend)
    ok(run(stack_dir, env, "init", "-input=false"))
    ok(run(stack_dir, env, "apply", "-auto-approve", "-input=false"))
    before = json.loads((stack_dir / "terraform.tfstate").read_text())

    write_config(stack_dir, gcs_backend)
    ok(run(stack_dir, env, "init", "-migrate-state", "-force-copy", "-input=false"))
    after = json.loads(bucket.blob("bootstrap/default.tfstate").download_as_bytes())
    assert after["resources"] == before["resources"]
    assert after["outputs"] == before["outputs"]
    assert after["lineage"] == before["lineage"]
    # Nothing to do after the move: the state carried everything across.
    assert run(stack_dir, env, "plan", "-detailed-exitcode", "-input=false").returncode == 0
