"""The checkov gate: zero failed checks over every stack, and it cannot pass
by scanning nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.security_gate import CONFIG_FILE, NEVER_SKIP, NO_CHECKOV_CHECKS, evaluate, nothing_to_check, skipped_ids

from .conftest import ROOT
from .needs import unavailable

GATE = [sys.executable, str(ROOT / "tools" / "security_gate.py")]


def checkov() -> str:
    found = shutil.which("checkov")
    if not found:
        unavailable("checkov is not on PATH: `make test` installs it in .tools/checkov and runs this test")
    return found


def checks_on(report: str, stack: str) -> int:
    """The number of checks the gate says ran on `stack` (its line must be there)."""
    [line] = [line for line in report.splitlines() if line.startswith(f"{stack}: ")]
    return int(line.split()[1])


def run_gate(outdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*GATE, str(outdir), "--checkov", checkov()], capture_output=True, text=True, timeout=600)


def test_every_stack_passes_checkov(synth_dir, stacks):
    result = run_gate(synth_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed, 0 parsing errors" in result.stdout
    for name in stacks:
        if set(stacks[name]["resource"]) <= NO_CHECKOV_CHECKS:
            assert f"{name}: 0 checks (checkov has none for its resource types)" in result.stdout
        else:
            assert checks_on(result.stdout, name) > 0, f"no check ran on {name}"


@pytest.fixture(scope="module")
def gate_on_weakened_tree(tmp_path_factory, stacks, platform) -> subprocess.CompletedProcess:
    """One gate run over a weakened copy of a bootstrap stack, imports kept."""
    stack = json.loads(json.dumps(stacks["bootstrap-production"]))
    assert "import" in stack
    [bucket] = [b for b in stack["resource"]["google_storage_bucket"].values() if b["name"] == platform.environments["production"].state_bucket]
    bucket["public_access_prevention"] = "inherited"
    bucket["versioning"] = {"enabled": False}
    outdir = tmp_path_factory.mktemp("weakened")
    path = outdir / "stacks" / "weak" / "cdk.tf.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(stack))
    return run_gate(outdir)


def test_a_weakened_bucket_fails_the_gate(gate_on_weakened_tree):
    assert gate_on_weakened_tree.returncode == 1
    assert "FAIL: CKV_GCP_114 failed on resource.state-bucket" in gate_on_weakened_tree.stderr
    assert "FAIL: CKV_GCP_78 failed on resource.state-bucket" in gate_on_weakened_tree.stderr


def test_stacks_with_import_blocks_are_still_scanned(gate_on_weakened_tree):
    """Scanned as is, a stack with imports parses to nothing and passes."""
    assert "parsing" not in gate_on_weakened_tree.stderr
    assert checks_on(gate_on_weakened_tree.stdout, "weak") > 0


def test_parsing_errors_and_unscanned_stacks_fail():
    report = {
        "results": {"passed_checks": [], "failed_checks": [], "parsing_errors": ["/app/cdk.tf.json"]},
        "summary": {"passed": 0, "failed": 0, "parsing_errors": 1},
    }
    problems, _ = evaluate(report, ["app"], set())
    assert problems == ["checkov could not parse /app/cdk.tf.json: nothing of it was scanned", "no check ran on stack app"]


def test_only_stacks_of_types_checkov_cannot_check_may_pass_without_checks(tmp_path, stacks):
    problems, _ = evaluate({"results": {}}, ["app", "bootstrap"], set(), {"app"})
    assert problems == ["no check ran on stack bootstrap"]
    for name, stack in stacks.items():
        path = tmp_path / "stacks" / name / "cdk.tf.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(stack))
    assert nothing_to_check(tmp_path) == {name for name in stacks if name.startswith("app-")}


def test_empty_report_fails():
    problems, _ = evaluate([], ["app"], set())
    assert problems == ["no check ran on stack app"]


def test_skip_list_is_short_justified_and_spares_the_key_checks():
    skipped = skipped_ids(CONFIG_FILE.read_text())
    assert skipped and len(skipped) <= 3
    assert not skipped & NEVER_SKIP
    for line in CONFIG_FILE.read_text().splitlines():
        if line.strip().startswith("- CKV_"):
            assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, f"skip without a reason: {line}"
    problems, _ = evaluate({"results": {}}, [], {"CKV_GCP_125"})
    assert problems == ["skip of CKV_GCP_125 is not allowed: .checkov.yaml must not skip it"]
