"""A synthesis refuses to run when `cdktf synth` would delete local state."""

from __future__ import annotations

import os
import subprocess
import sys

from platform_config import stack_names
from synth.output_guard import orphaned_state_problems

from .conftest import ROOT


def test_stack_names_are_what_the_app_synthesizes(stacks, platform):
    assert sorted(stack_names(platform.environments)) == sorted(stacks)


def test_state_in_a_folder_of_a_current_stack_is_fine(tmp_path):
    (tmp_path / "stacks" / "bootstrap-staging").mkdir(parents=True)
    (tmp_path / "stacks" / "bootstrap-staging" / "terraform.tfstate").write_text("{}")
    assert orphaned_state_problems(tmp_path, ["bootstrap-staging"]) == []


def test_state_in_an_orphaned_folder_stops_the_synth(tmp_path):
    orphan = tmp_path / "stacks" / "bootstrap-qa" / "terraform.tfstate"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}")
    env = {**os.environ, "CDKTF_OUTDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {orphan} holds the local state of a stack this configuration no longer has")
    assert orphan.exists()
    assert sorted(p.name for p in (tmp_path / "stacks").iterdir()) == ["bootstrap-qa"]


def test_make_clean_keeps_a_bootstrap_state(tmp_path):
    """`make clean` refuses while a stack folder holds a local state, and says
    how to move it; without one it deletes the output folder."""
    state = tmp_path / "cdktf.out" / "stacks" / "bootstrap-production" / "terraform.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 4, "resources": []}')
    clean = ["make", "-s", "-f", str(ROOT / "Makefile"), "-C", str(tmp_path), "clean"]
    refused = subprocess.run(clean, capture_output=True, text=True)
    assert refused.returncode != 0 and state.exists()
    assert "error: make clean: refused, cdktf.out/stacks/bootstrap-production/terraform.tfstate holds a bootstrap's state" in refused.stderr
    assert "tofu init -migrate-state" in refused.stderr
    state.unlink()
    assert subprocess.run(clean, capture_output=True, text=True).returncode == 0
    assert not (tmp_path / "cdktf.out").exists()
