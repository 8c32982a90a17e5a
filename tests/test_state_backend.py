"""The synthesized GCS backends, exercised by the project's OpenTofu (make
engine) against the twin's Cloud Storage, each step as the identity that
takes it in CI, with the bucket's IAM as our bootstrap declares it.

The configurations here hold only a backend, a built-in `terraform_data`
resource and an output: no provider is needed.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from gcp_twin import token_for
from platform_config.naming import STATE_OBJECT, app_stack_name, app_state_prefix, bootstrap_stack_name
from tools.seed_state import seed

from .bootstrap_grants import ADMIN, account_member, apply_storage_and_iam
from .engine import engine_env, ok, require_engine, run


@pytest.fixture
def twin(storage_twin):
    require_engine()
    return storage_twin


def write_config(directory: Path, backend: dict, marker: Path | None = None, sleep: int = 0) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    resource: dict = {"triggers_replace": "v1"}
    if marker:
        # Holds the state lock for `sleep` seconds, after telling the test it started.
        resource["provisioner"] = [{"local-exec": {"command": f"touch {marker} && sleep {sleep}"}}]
    config = {
        "terraform": {"backend": backend},
        "resource": {"terraform_data": {"probe": resource}},
        "output": {"probe_id": {"value": "${terraform_data.probe.id}"}},
    }
    (directory / "main.tf.json").write_text(json.dumps(config))


def backend_only(directory: Path, backend: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf.json").write_text(json.dumps({"terraform": {"backend": backend}}))
    return directory


def as_identity(twin, tmp_path: Path, member: str) -> dict[str, str]:
    home = tmp_path / member.split(":")[1].split("@")[0]
    home.mkdir(exist_ok=True)
    return engine_env(home, twin.json_api, token_for(member))


def state_key(env_name: str) -> str:
    return f"{app_state_prefix(env_name)}/{STATE_OBJECT}"


def bootstrapped(twin, stacks, env_name: str) -> tuple[dict, dict]:
    """The twin after env_name's bootstrap apply; returns (bootstrap, app) stacks."""
    bootstrap = stacks[bootstrap_stack_name(env_name)]
    apply_storage_and_iam(twin, bootstrap)
    return bootstrap, stacks[app_stack_name(env_name)]


def admin_bucket(twin, app: dict):
    return twin.backend.client("admin").bucket(app["terraform"]["backend"]["gcs"]["bucket"])


def test_deployer_stores_app_state_under_its_prefix(twin, stacks, env_name, tmp_path):
    bootstrap, app = bootstrapped(twin, stacks, env_name)
    deployer = as_identity(twin, tmp_path, account_member(bootstrap, "deployer"))
    write_config(tmp_path / "app", app["terraform"]["backend"])
    ok(run(tmp_path / "app", deployer, "init", "-input=false"))
    ok(run(tmp_path / "app", deployer, "apply", "-auto-approve", "-input=false"))
    bucket = admin_bucket(twin, app)
    assert [blob.name for blob in bucket.client.list_blobs(bucket.name)] == [state_key(env_name)]
    assert "probe_id" in json.loads(bucket.blob(state_key(env_name)).download_as_bytes())["outputs"]


def test_planner_cannot_plan_a_fresh_environment_unseeded(twin, stacks, env_name, tmp_path):
    """Why make seed-state exists: OpenTofu's GCS backend writes an empty
    state (under a lock) when there is none, already in `tofu init`, and the
    planner may not write."""
    bootstrap, app = bootstrapped(twin, stacks, env_name)
    planner = as_identity(twin, tmp_path, account_member(bootstrap, "planner"))
    stack = backend_only(tmp_path / "app", app["terraform"]["backend"])
    refused = run(stack, planner, "init", "-input=false", "-no-color")
    assert refused.returncode != 0
    assert "does not have storage.objects.create access" in refused.stderr


def test_planner_plans_after_the_admin_seeds_the_state(twin, stacks, env_name, tmp_path):
    bootstrap, app = bootstrapped(twin, stacks, env_name)
    backend = app["terraform"]["backend"]
    seed(backend, str(require_engine()), as_identity(twin, tmp_path, ADMIN))
    planner = as_identity(twin, tmp_path, account_member(bootstrap, "planner"))
    stack = backend_only(tmp_path / "app", backend)
    ok(run(stack, planner, "init", "-input=false"))
    ok(run(stack, planner, "plan", "-input=false", "-lock=false", "-detailed-exitcode"))
    # tools/plan_deployed.sh reads the outputs first: an empty state has none.
    assert json.loads(ok(run(stack, planner, "output", "-json")).stdout) == {}


def test_seeding_never_replaces_a_state(twin, stacks, env_name, tmp_path):
    bootstrap, app = bootstrapped(twin, stacks, env_name)
    backend = app["terraform"]["backend"]
    deployer = as_identity(twin, tmp_path, account_member(bootstrap, "deployer"))
    write_config(tmp_path / "app", backend)
    ok(run(tmp_path / "app", deployer, "init", "-input=false"))
    ok(run(tmp_path / "app", deployer, "apply", "-auto-approve", "-input=false"))
    blob = admin_bucket(twin, app).blob(state_key(env_name))
    blob.reload()
    generation = blob.generation
    seed(backend, str(require_engine()), as_identity(twin, tmp_path, ADMIN))
    blob.reload()
    assert blob.generation == generation


def test_second_apply_is_refused_while_the_lock_is_held(twin, stacks, tmp_path):
    env_name = next(name for name in stacks if name.startswith("app-")).removeprefix("app-")
    bootstrap, app = bootstrapped(twin, stacks, env_name)
    backend = app["terraform"]["backend"]
    deployer = as_identity(twin, tmp_path, account_member(bootstrap, "deployer"))
    marker = tmp_path / "first-apply-holds-lock"
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    write_config(first_dir, backend, marker=marker, sleep=5)
    write_config(second_dir, backend)
    ok(run(first_dir, deployer, "init", "-input=false"))
    ok(run(second_dir, deployer, "init", "-input=false"))
    first = subprocess.Popen(
        [str(require_engine()), "apply", "-auto-approve", "-input=false"],
        cwd=first_dir,
        env=deployer,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = admin_bucket(twin, app).blob(f"{app_state_prefix(env_name)}/default.tflock")
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first apply never started"
            time.sleep(0.2)
        assert lock.exists()
        second = run(second_dir, deployer, "apply", "-auto-approve", "-input=false", "-lock-timeout=0s")
        assert second.returncode != 0
        assert "Error acquiring the state lock" in second.stderr
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert not lock.exists(), "the lock outlived the apply"


def test_bootstrap_state_moves_into_the_bucket_intact(twin, stacks, variant, tmp_path):
    local_backend = stacks["bootstrap-production"]["terraform"]["backend"]
    gcs_backend = variant["bootstrap-production"]["terraform"]["backend"]
    apply_storage_and_iam(twin, variant["bootstrap-production"])
    admin = as_identity(twin, tmp_path, ADMIN)
    stack_dir = tmp_path / "bootstrap-production"
    write_config(stack_dir, local_backend)
    ok(run(stack_dir, admin, "init", "-input=false"))
    ok(run(stack_dir, admin, "apply", "-auto-approve", "-input=false"))
    before = json.loads((stack_dir / "terraform.tfstate").read_text())

    write_config(stack_dir, gcs_backend)
    ok(run(stack_dir, admin, "init", "-migrate-state", "-force-copy", "-input=false"))
    bucket = twin.backend.client("admin").bucket(gcs_backend["gcs"]["bucket"])
    after = json.loads(bucket.blob("bootstrap/default.tfstate").download_as_bytes())
    assert after["resources"] == before["resources"]
    assert after["outputs"] == before["outputs"]
    assert after["lineage"] == before["lineage"]
    # Nothing to do after the move: the state carried everything across.
    assert run(stack_dir, admin, "plan", "-detailed-exitcode", "-input=false").returncode == 0


def test_seed_state_says_in_one_line_what_is_missing(monkeypatch, tmp_path, capsys, env_name):
    from tools import seed_state

    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path))
    assert seed_state.main([env_name]) == 2
    assert capsys.readouterr().err == f"error: seed-state: {tmp_path}/stacks/app-{env_name}/cdk.tf.json does not exist: run `make synth` first\n"
    monkeypatch.setenv("TOFU", str(tmp_path / "no-tofu"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(seed_state.InputError, match="no OpenTofu: run `make engine`"):
        seed_state.tofu_binary()
