"""The GitHub workflows: linted offline, and structured so that the old
pipeline's failures (workflow_run chains that skipped or ran out of order,
a missing registry or bucket) cannot happen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.ci_plan import build_matrix, late_images

from .conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
DEPLOY_ORDER = ["preflight", "build-images", "deploy-services", "deploy-gateway"]


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


@pytest.fixture(scope="module")
def deploy() -> dict:
    return load("deploy.yml")


@pytest.fixture(scope="module")
def pull_request() -> dict:
    return load("pull-request.yml")


def all_steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def test_actionlint_reports_nothing():
    result = subprocess.run([str(BIN / "actionlint"), "-color=false"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_reports_nothing():
    result = subprocess.run([str(BIN / "zizmor"), "--offline", "--no-progress", ".github"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_no_workflow_run_triggers():
    for path in WORKFLOWS.glob("*.yml"):
        assert "workflow_run" not in load(path.name)["on"], path.name


def test_deploy_is_reusable_and_runnable_by_hand(deploy):
    assert set(deploy["on"]) == {"workflow_call", "workflow_dispatch"}
    for trigger in deploy["on"].values():
        assert {"environment", "app_ref"} <= set(trigger["inputs"])
    assert deploy["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["staging", "production"]


def test_deploy_jobs_run_in_order(deploy):
    assert list(deploy["jobs"]) == DEPLOY_ORDER
    for earlier, later in zip(DEPLOY_ORDER, DEPLOY_ORDER[1:]):
        needs = deploy["jobs"][later]["needs"]
        assert earlier in ([needs] if isinstance(needs, str) else needs), f"{later} does not wait for {earlier}"
    for job in deploy["jobs"].values():
        assert "if" not in job, "a condition could skip a step of the deploy"


def test_preflight_comes_before_anything_else(deploy):
    steps = deploy["jobs"]["preflight"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert any(run.startswith("make preflight") for run in runs)
    assert "needs" not in deploy["jobs"]["preflight"]


def test_build_matrix_equals_the_configured_service_images(deploy, platform):
    job = deploy["jobs"]["build-images"]
    assert job["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.preflight.outputs.matrix) }}"
    plan_step = next(s for s in deploy["jobs"]["preflight"]["steps"] if s.get("id") == "plan")
    assert "tools.ci_plan" in plan_step["run"] and " matrix)" in plan_step["run"]
    configured = [s.image for s in platform.services if not s.build.service_url_build_args]
    assert [entry["image"] for entry in build_matrix(platform)] == configured
    assert [entry["image"] for entry in late_images(platform)] == ["mesh"]
    assert build_matrix(platform)[0] == {"image": "agent_service", "dockerfile": "src/agent_service/Dockerfile", "context": "."}


def test_gcp_jobs_use_workload_identity_in_their_environment(deploy):
    for name, job in deploy["jobs"].items():
        auth = [s for s in job["steps"] if str(s.get("uses", "")).startswith("google-github-actions/auth@")]
        assert auth, f"{name} does not authenticate"
        assert set(auth[0]["with"]) == {"workload_identity_provider", "service_account"}
        assert job["environment"] == "${{ inputs.environment }}"
        assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_least_permissions_and_one_deploy_per_environment(deploy, pull_request):
    assert deploy["permissions"] == {} and pull_request["permissions"] == {}
    assert deploy["concurrency"] == {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False}


def test_no_keys_and_no_pushes_to_the_repository():
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "credentials_json" not in text, path.name
        assert "git push" not in text and "git commit" not in text, path.name
    for path in WORKFLOWS.glob("*.yml"):
        for _, step in all_steps(load(path.name)):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_pull_request_runs_tests_diff_and_validate(pull_request):
    jobs = pull_request["jobs"]
    assert any(s.get("run") == "make test" for s in jobs["test"]["steps"])
    diff_runs = " ".join(s.get("run", "") for s in jobs["synth-diff"]["steps"])
    assert "synth-diff BASE=" in diff_runs
    comment = next(s for s in jobs["synth-diff"]["steps"] if str(s.get("uses", "")).startswith("actions/github-script@"))
    assert "<!-- cdktf-synth-diff -->" in comment["with"]["script"] and "updateComment" in comment["with"]["script"]
    validate = " ".join(s.get("run", "") for s in jobs["validate"]["steps"])
    assert "init -backend=false" in validate and "validate" in validate
    assert any(str(s.get("uses", "")).startswith("opentofu/setup-opentofu@") for s in jobs["validate"]["steps"])


def test_actions_are_pinned_by_verified_sha_or_recorded_tag():
    policies = yaml.safe_load((ROOT / ".github" / "zizmor.yml").read_text())["rules"]["unpinned-uses"]["config"]["policies"]
    for path in WORKFLOWS.glob("*.yml"):
        for _, step in all_steps(load(path.name)):
            uses = step.get("uses")
            if not uses:
                continue
            action, ref = uses.split("@")
            if len(ref) != 40:
                assert f"{action.split('/')[0]}/*" in policies, f"{uses} is tag-pinned without a recorded reason"
