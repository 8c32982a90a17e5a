"""Every way of synthesizing writes the same bytes, and errors still surface.

The two subprocess syntheses run with a PATH that holds neither `terraform`
nor `tofu` (as on GitHub's ubuntu-latest): synthesis needs no Terraform CLI.

- `cdktf synth` (the CLI, through cdktf.json and pipenv), run here without
  main.py's shortcuts: full provider import, garbage collector on, normal exit;
- `python main.py` (what `make synth` runs), with the shortcuts;
- this test session, which imports only the used provider submodules.

With the shortcuts, jsii's node process too loads only the provider's
resource modules that the stacks use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from platform_config import stack_names
from synth.provider_bindings import LAZY_INDEX, PACKAGE

from .conftest import ROOT, stack_files
from .needs import unavailable

CDKTF = ROOT / "node_modules" / ".bin" / "cdktf"


ENGINES = ("terraform", "tofu")
# What a synthesis may run: the interpreter, node for jsii and the CLI, a shell, pipenv for `cdktf synth`.
SYNTH_TOOLS = ("python3", "node", "npm", "npx", "sh", "bash", "env", "pipenv")


def path_without_engines(tmp_path) -> str:
    """A PATH of symlinks to the tools a synthesis may use, and no Terraform CLI."""
    jail = tmp_path / "bin"
    jail.mkdir()
    for tool in SYNTH_TOOLS:
        found = shutil.which(tool)
        if found:
            (jail / tool).symlink_to(found)
    assert not any(shutil.which(engine, path=str(jail)) for engine in ENGINES)
    return str(jail)


def run_main(tmp_path, extra_env: dict[str, str], script: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDKTF_OUTDIR": str(tmp_path / "out"), "PATH": path_without_engines(tmp_path), **extra_env}
    return subprocess.run(script or [sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cdktf_cli_without_shortcuts_writes_the_same_bytes(tmp_path, synth_dir):
    if not CDKTF.exists():
        unavailable("cdktf-cli is not installed: run `make test` (it runs npm ci) to include this test")
    if not shutil.which("pipenv"):
        unavailable("pipenv is not on PATH: run `make test`, which puts the project's pipenv there")
    assert str(LAZY_INDEX) not in os.environ.get("NODE_OPTIONS", ""), "the session's shortcut leaked into its subprocesses"
    outdir = tmp_path / "cli.out"
    result = subprocess.run(
        [str(CDKTF), "synth", "--output", str(outdir)],
        cwd=ROOT,
        env={
            **os.environ,
            "PATH": path_without_engines(tmp_path),
            "CHECKPOINT_DISABLE": "1",
            "PIPENV_VENV_IN_PROJECT": "1",
            "SYNTH_WITHOUT_SHORTCUTS": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack_files(outdir) == stack_files(synth_dir)


def test_main_with_shortcuts_writes_the_same_bytes(tmp_path, synth_dir, platform):
    """Also: node's module log (NODE_DEBUG=module) names no provider resource
    module that Python did not import (this session imported what the stacks
    import), instead of all ~1,470."""
    result = run_main(tmp_path, {"NODE_DEBUG": "module"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert stack_files(tmp_path / "out") == stack_files(synth_dir)
    assert sorted(stack_files(synth_dir)) == sorted(stack_names(platform.environments))
    imported = {name.split(".")[1].replace("_", "-") for name in sys.modules if name.startswith(f"{PACKAGE}.")} - {"-jsii"}
    loaded = set(re.findall(r'load "[^"]*/node_modules/@cdktf/provider-google/lib/([^/"]+)/index\.js"', result.stderr))
    assert loaded, "no provider module in node's log"
    assert loaded <= imported


def test_a_failing_construct_still_fails_the_synth(tmp_path):
    """With every shortcut on, an exception in a construct ends the run with
    its message and a non-zero exit, and no stack is written."""
    script = textwrap.dedent(
        """
        from synth.provider_bindings import import_only_used_submodules
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
