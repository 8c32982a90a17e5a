"""The project's OpenTofu (make engine) for tests: where it is, and how a
test runs it as one identity against the twin, never the network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import ROOT
from .needs import unavailable

TOFU = Path(os.environ.get("TOFU") or ROOT / ".engine" / "bin" / "tofu")
# Where providers would be found (a filesystem mirror: tofu init never asks a registry).
PROVIDER_MIRROR = ROOT / ".engine" / "providers"


def require_engine() -> Path:
    """The engine, or the test stops: skipped locally with the reason, failed under CI."""
    if not TOFU.is_file():
        unavailable(f"OpenTofu is not built ({TOFU}): run `make engine`")
    return TOFU


def engine_env(tmp_path: Path, storage_json_api: str, token: str) -> dict[str, str]:
    """OpenTofu's environment: the twin's Cloud Storage for the GCS backend,
    `token` as the caller, a CLI configuration that installs providers from
    the local mirror only."""
    cli_config = tmp_path / "tofu.tfrc"
    cli_config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PROVIDER_MIRROR}"\n  }}\n}}\n')
    return {
        **os.environ,
        "GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT": storage_json_api,
        "GOOGLE_OAUTH_ACCESS_TOKEN": token,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def run(directory: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(require_engine()), *args], cwd=directory, env=env, capture_output=True, text=True, timeout=300)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result
