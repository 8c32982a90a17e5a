"""Every way of synthesizing writes the same bytes, and errors still surface.

- `cdktf synth` (the CLI, through cdktf.json and pipenv), run here without
  main.py's shortcuts: full provider import, garbage collector on, normal exit;
- `python main.py` (what `make synth` runs), with the shortcuts;
- this test session, which imports only the used provider submodules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from .conftest import ROOT, stack_files

CDKTF = ROOT / "node_modules" / ".bin" / "cdktf"


def run_main(tmp_path, extra_env: dict[str, str], script: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDKTF_OUTDIR": str(tmp_path / "out"), **extra_env}
    return subprocess.run(script or [sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cdktf_cli_without_shortcuts_writes_the_same_bytes(tmp_path, synth_dir):
    if not CDKTF.exists():
        pytest.skip("cdktf-cli is not installed: run `make test` (it runs npm ci) to include this test")
    if not shutil.which("pipenv"):
        pytest.skip("pipenv is not on PATH: run `make test`, which puts the project's pipenv there")
    outdir = tmp_path / "cli.out"
    result = subprocess.run(
        [str(CDKTF), "synth", "--output", str(outdir)],
        cwd=ROOT,
        env={**os.environ, "CHECKPOINT_DISABLE": "1", "PIPENV_VENV_IN_PROJECT": "1", "SYNTH_WITHOUT_SHORTCUTS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack_files(outdir) == stack_files(synth_dir)


def test_main_with_shortcuts_writes_the_same_bytes(tmp_path, synth_dir):
    result = run_main(tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert stack_files(tmp_path / "out") == stack_files(synth_dir)
    assert len(stack_files(synth_dir)) == 4


def test_a_failing_construct_still_fails_the_synth(tmp_path):
    """With every shortcut on, an exception in a construct ends the run with
    its message and a non-zero exit, and no stack is written."""
    script = textwrap.dedent(
        """
        from constructs_lib.provider_bindings import import_only_used_submodules
        import_only_used_submodules()
        from constructs_lib import hardened_bucket

        def broken(*args, **kwargs):
            raise ValueError("bucket construct failed on purpose")

        hardened_bucket.HardenedBucket.__init__ = broken
        import main
        main.run()
        """
    )
    result = run_main(tmp_path, {}, [sys.executable, "-c", script])
    assert result.returncode == 1
    assert "ValueError: bucket construct failed on purpose" in result.stderr
    assert not stack_files(tmp_path / "out")
