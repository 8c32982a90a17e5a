"""`cdktf synth` (the CLI, through cdktf.json and pipenv) stays supported and
produces exactly what `make synth` produces."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from .conftest import ROOT, read_stacks

CDKTF = ROOT / "node_modules" / ".bin" / "cdktf"


def test_cdktf_cli_synth_matches_direct_synth(tmp_path, stacks):
    if not CDKTF.exists():
        pytest.skip("cdktf-cli is not installed: run `make test` (it runs npm ci) to include this test")
    if not shutil.which("pipenv"):
        pytest.skip("pipenv is not on PATH: run `make test`, which puts the project's pipenv there")
    outdir = tmp_path / "cli.out"
    result = subprocess.run(
        [str(CDKTF), "synth", "--output", str(outdir)],
        cwd=ROOT,
        env={**os.environ, "CHECKPOINT_DISABLE": "1", "PIPENV_VENV_IN_PROJECT": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_stacks(outdir) == stacks
