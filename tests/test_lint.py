"""The lint and type gate over the project's own code: ruff (lint and
format) and mypy report nothing. Configuration: ruff.toml, mypy.ini."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

BIN = Path(sys.executable).parent
TYPED = ["main.py", "platform_config", "constructs_lib", "stacks", "tools", "rehearsal", "bench", "gcp_twin", "mutation"]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing():
    result = run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted():
    result = run(str(BIN / "ruff"), "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    result = run(str(BIN / "mypy"), *TYPED)
    assert result.returncode == 0, result.stdout + result.stderr
