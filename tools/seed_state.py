"""The app stack's state object, created empty once by the admin right after
the bootstrap apply (`make seed-state ENV=<env>`), so that the planner's
first plan of a fresh environment can read it.

Why: OpenTofu's GCS backend, asked for a state that does not exist, takes a
lock, writes an empty state and persists it (StateMgr in OpenTofu's
internal/backend/remote-state/gcs/backend_state.go), whatever `-lock=false`
says. The planner may only read the bucket (roles/storage.objectViewer), so
its first plan of an environment would fail with 403 storage.objects.create
until someone with write rights has done this once.

How: OpenTofu itself does it, with the app stack's own backend block and
nothing else (no provider is needed): `tofu init` creates the state if it is
missing (as every command that loads it does), `tofu state list` reads it
back. An existing state is read, never replaced. Credentials: the admin's Application Default Credentials,
as for the bootstrap apply.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from platform_config import load_platform
from platform_config.naming import STATE_OBJECT, app_stack_name, stack_directory
from tools.cli import InputError, OneLineParser, read_json, run_tool


def tofu_binary() -> str:
    """The engine: $TOFU (make sets it to the project's build), else `tofu` on PATH."""
    candidate = os.environ.get("TOFU") or shutil.which("tofu")
    if not candidate or not Path(candidate).is_file():
        raise InputError("no OpenTofu: run `make engine` (or put tofu 1.10.7 on PATH)")
    return candidate


def app_backend(env_name: str) -> dict:
    stack_file = Path(stack_directory(app_stack_name(env_name))) / "cdk.tf.json"
    if not stack_file.is_file():
        raise InputError(f"{stack_file} does not exist: run `make synth` first")
    backend = read_json(stack_file).get("terraform", {}).get("backend", {})
    if "gcs" not in backend:
        raise InputError(f"{stack_file} has no gcs backend")
    return backend


def seed(backend: dict, tofu: str, env: dict[str, str] | None = None) -> str:
    """Creates the state behind `backend` if it is missing; returns its gs:// address."""
    with tempfile.TemporaryDirectory(prefix="seed-state-") as directory:
        Path(directory, "backend.tf.json").write_text(json.dumps({"terraform": {"backend": backend}}))
        for command in (["init", "-input=false", "-no-color"], ["state", "list", "-no-color"]):
            result = subprocess.run([tofu, *command], cwd=directory, env=env, capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                detail = " ".join((result.stderr or result.stdout).split())[:400]
                raise InputError(f"tofu {command[0]} failed: {detail}")
    gcs = backend["gcs"]
    return f"gs://{gcs['bucket']}/{gcs['prefix']}/{STATE_OBJECT}"


def main(argv: list[str] | None = None) -> int:
    def produce() -> list[str]:
        platform = load_platform()
        parser = OneLineParser(prog="seed_state", description=__doc__.split("\n\n")[0])
        parser.add_argument("environment", choices=sorted(platform.environments), help="the environment whose bootstrap was just applied")
        address = seed(app_backend(parser.parse_args(argv).environment), tofu_binary())
        return [f"seed-state: {address} exists (created empty if it was missing; an existing state is never replaced)"]

    return run_tool("seed-state", produce)


if __name__ == "__main__":
    sys.exit(main())
