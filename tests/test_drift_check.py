"""tools/drift_check.sh, with a stand-in tofu, in a clone of this repository:
the app stack is planned at the infrastructure commit its deploy recorded,
so a change merged since is reported as "merged, not deployed", not drift;
the bootstrap is planned when its state is in the bucket. Slow: it
synthesizes two commits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from platform_config.naming import IMAGE_TAGS_OUTPUT, INFRASTRUCTURE_COMMIT_OUTPUT
from tools.ci_plan import images

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TAG = "v1.0.0-22403cf"
# plan exits with FAKE_PLAN_<where> (0 no changes, 2 changes); where: "main"
# when run in the checkout, "deployed" in another tree (the deployed commit's).
FAKE_TOFU = """#!/usr/bin/env bash
dir=${1#-chdir=}
if [ "$PWD" = "$FAKE_MAIN_ROOT" ]; then where=main; else where=deployed; fi
case "$*" in
  *" init "*) exit 0 ;;
  *"output -json"*) cat "$FAKE_OUTPUTS" ;;
  *"show -json"*) echo '{"resource_changes": []}' ;;
  *" plan "*) echo "$where $dir" >> "$FAKE_LOG"; status_var=FAKE_PLAN_$where; exit "${!status_var}" ;;
esac
"""


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> dict:
    """This working tree's files committed in a new repository (the deployed
    commit) with one more commit on top (main), and a stand-in tofu."""
    base = tmp_path_factory.mktemp("drift")
    repo = base / "repo"
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard"], capture_output=True, text=True, check=True)
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the deployed commit")
    deployed = git(repo, "rev-parse", "HEAD")
    (repo / "MERGED.md").write_text("a change merged after the deploy\n")
    git(repo, "add", "MERGED.md")
    git(repo, "commit", "-q", "-m", "a merged change")
    (repo / ".venv").symlink_to(ROOT / ".venv")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    (bin_dir / "tofu").write_text(FAKE_TOFU)
    (bin_dir / "tofu").chmod(0o755)
    return {"repo": repo, "deployed": deployed, "head": git(repo, "rev-parse", "HEAD"), "bin": bin_dir, "base": base}


def run(checkout: dict, config: Path, recorded: str | None, main: int, deployed: int) -> tuple[subprocess.CompletedProcess, str, list[str]]:
    repo, base = checkout["repo"], checkout["base"]
    platform = yaml.safe_load(config.read_text())
    env_name = next(iter(platform["environments"]))
    outputs = {IMAGE_TAGS_OUTPUT: {"value": {image: TAG for image in images(_platform(config))}}}
    if recorded is not None:
        outputs[INFRASTRUCTURE_COMMIT_OUTPUT] = {"value": recorded}
    (base / "outputs.json").write_text(json.dumps(outputs))
    log = base / "plans.log"
    log.write_text("")
    env = {
        **os.environ,
        "PATH": f"{checkout['bin']}:{os.environ['PATH']}",
        "PLATFORM_CONFIG": str(config),
        "FAKE_MAIN_ROOT": str(repo),
        "FAKE_OUTPUTS": str(base / "outputs.json"),
        "FAKE_LOG": str(log),
        "FAKE_PLAN_main": str(main),
        "FAKE_PLAN_deployed": str(deployed),
    }
    subprocess.run([str(repo / ".venv" / "bin" / "python"), "main.py"], cwd=repo, env=env, check=True, capture_output=True)
    result = subprocess.run(["bash", "tools/drift_check.sh", env_name], cwd=repo, env=env, capture_output=True, text=True)
    report = (repo / "drift-report.md").read_text() if (repo / "drift-report.md").exists() else ""
    return result, report, log.read_text().split()


def _platform(config: Path):
    from platform_config import load_platform

    return load_platform(config)


@pytest.fixture
def config(tmp_path) -> Path:
    """The default configuration with project numbers (plans need them)."""
    data = yaml.safe_load((ROOT / "config" / "platform.yaml").read_text())
    for index, environment in enumerate(data["environments"].values()):
        environment["project_number"] = str(100000000000 + index)
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_merged_change_is_not_drift(checkout, config):
    result, report, plans = run(checkout, config, checkout["deployed"], main=2, deployed=0)
    assert result.returncode == 0, result.stderr
    assert "### Merged, not deployed (not drift)" in report and "a merged change" in report
    assert "The next deploy of" in report
    assert [where for where in plans[::2]] == ["main", "deployed"]


def test_drift_at_the_deployed_commit_is_drift(checkout, config):
    result, report, _ = run(checkout, config, checkout["deployed"], main=0, deployed=2)
    assert result.returncode == 2, result.stderr
    assert "### Merged, not deployed (not drift)" in report and "They change nothing" in report
    assert git(checkout["repo"], "worktree", "list").count("\n") == 0, "the deployed commit's worktree was left behind"


def test_a_failed_plan_at_the_deployed_commit_fails_the_check(checkout, config):
    result, _, _ = run(checkout, config, checkout["deployed"], main=0, deployed=1)
    assert result.returncode == 1
    assert f"the plan of app-{next(iter(yaml.safe_load(config.read_text())['environments']))} at the deployed commit" in result.stderr


def test_without_a_recorded_commit_main_is_planned_and_said_so(checkout, config):
    for recorded in (None, "0" * 40):
        result, report, plans = run(checkout, config, recorded, main=2, deployed=0)
        assert result.returncode == 2, result.stderr
        assert "so main was planned" in report and "Merged, not deployed" not in report
        assert plans[::2] == ["main"]


def test_deployed_at_main_plans_once(checkout, config):
    result, report, plans = run(checkout, config, checkout["head"], main=0, deployed=2)
    assert result.returncode == 0, result.stderr
    assert plans[::2] == ["main"] and "Merged" not in report


def test_the_bootstrap_is_planned_when_its_state_is_in_the_bucket(checkout, config):
    result, report, plans = run(checkout, config, checkout["head"], main=0, deployed=0)
    assert result.returncode == 0, result.stderr
    assert "is not checked: its state is on the admin's machine" in report
    data = yaml.safe_load(config.read_text())
    for environment in data["environments"].values():
        environment["bootstrap_backend"] = "gcs"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    result, report, plans = run(checkout, config, checkout["head"], main=2, deployed=0)
    assert result.returncode == 2, result.stderr
    env_name = next(iter(data["environments"]))
    assert plans[1].endswith(f"stacks/bootstrap-{env_name}") and "an admin has not applied yet" in report
