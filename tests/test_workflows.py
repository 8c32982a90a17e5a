"""The GitHub workflows: linted offline, and structured so that the old
pipeline's failures (workflow_run chains that skipped or ran out of order,
code of the wrong repository, approvals given blind) cannot happen.
`make rehearse` runs them; these tests read them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CALLER = ROOT / "examples" / "app-repository" / ".github" / "workflows" / "deploy.yml"
BIN = Path(sys.executable).parent
DEPLOY_ORDER = ["prepare", "preflight", "build-images", "plan", "apply", "verify"]
# Jobs that run this project's commands must check out this repository at the
# called workflow's commit, never the caller's (GitHub's default in a called workflow).
INFRA_CHECKOUT = {"repository": "${{ job.workflow_repository }}", "ref": "${{ job.workflow_sha }}"}


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def all_workflows() -> list[Path]:
    return [*sorted(WORKFLOWS.glob("*.yml")), CALLER]


@pytest.fixture(scope="module")
def deploy() -> dict:
    return load(WORKFLOWS / "deploy.yml")


@pytest.fixture(scope="module")
def pull_request() -> dict:
    return load(WORKFLOWS / "pull-request.yml")


@pytest.fixture(scope="module")
def drift() -> dict:
    return load(WORKFLOWS / "drift.yml")


def all_steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else value


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(f"{action}@")]


def test_actionlint_reports_nothing():
    result = subprocess.run([str(BIN / "actionlint"), "-color=false", *map(str, all_workflows())], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_reports_nothing():
    command = [str(BIN / "zizmor"), "--offline", "--no-progress", "--config", ".github/zizmor.yml", ".github", str(CALLER.parents[2])]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_no_workflow_run_triggers():
    for path in all_workflows():
        assert "workflow_run" not in load(path)["on"], path.name


def test_deploy_is_only_reusable(deploy):
    """No by-hand path in this repository: its token could not satisfy the
    Workload Identity condition; the caller is dispatched instead (README)."""
    assert set(deploy["on"]) == {"workflow_call"}
    assert {"app_ref", "image_tags", "rollout"} == set(deploy["on"]["workflow_call"]["inputs"])


def test_environment_comes_from_the_callers_ref(deploy):
    """No input names the environment (one could disagree with the ref): prepare
    derives it from the caller's ref and every later job reads prepare's output."""
    prepare = deploy["jobs"]["prepare"]
    assert prepare["outputs"]["environment"] == "${{ steps.plan.outputs.environment }}"
    [step] = [s for s in prepare["steps"] if s.get("id") == "plan"]
    assert re.search(r'tools\.ci_plan prepare "\$GITHUB_REF" ', step["run"])
    assert deploy["jobs"]["apply"]["environment"] == "${{ needs.prepare.outputs.environment }}"
    assert "inputs.environment" not in (WORKFLOWS / "deploy.yml").read_text()
    assert prepare["outputs"]["stack"] == "${{ steps.plan.outputs.stack }}"
    for name, job in deploy["jobs"].items():
        for variable, output in (("DEPLOY_ENV", "environment"), ("STACK", "stack")):
            if f"${variable}" in runs(job) or f"env.{variable}" in str(job):
                assert job.get("env", {}).get(variable) == f"${{{{ needs.prepare.outputs.{output} }}}}", f"{name}: {variable} is not prepare's {output}"
                assert "prepare" in needs(job), name


def test_deploy_jobs_run_in_order(deploy):
    assert list(deploy["jobs"]) == DEPLOY_ORDER
    for earlier, later in zip(DEPLOY_ORDER, DEPLOY_ORDER[1:], strict=False):
        assert earlier in needs(deploy["jobs"][later]), f"{later} does not wait for {earlier}"
    for job in deploy["jobs"].values():
        assert "if" not in job, "a condition could skip a step of the deploy"


def test_every_job_runs_this_repository_at_the_called_commit(deploy, drift):
    for workflow in (deploy, drift):
        for name, job in workflow["jobs"].items():
            if "make " not in runs(job) and ".venv/bin" not in runs(job) and "tools/" not in runs(job):
                continue
            checkouts = uses(job, "actions/checkout")
            own = [c for c in checkouts if c.get("with", {}).get("path", ".") == "."]
            assert own, f"{name} runs project commands without checking this repository out"
            if workflow is deploy:
                assert {k: own[0]["with"].get(k) for k in INFRA_CHECKOUT} == INFRA_CHECKOUT, f"{name} would check out the caller"


def test_application_is_checked_out_only_at_app_ref(deploy):
    for name, job in deploy["jobs"].items():
        for step in uses(job, "actions/checkout"):
            if step["with"].get("path") == "app":
                assert step["with"]["repository"] == "${{ github.repository }}"
                assert step["with"]["ref"] == "${{ inputs.app_ref }}", name


def test_synthesized_once_and_handed_on(deploy):
    synthesizing = [name for name, job in deploy["jobs"].items() if "make synth" in runs(job)]
    assert synthesizing == ["prepare"]
    assert uses(deploy["jobs"]["prepare"], "actions/upload-artifact")[0]["with"]["name"] == "synth"
    for name in ("plan", "apply", "verify"):
        downloads = [s["with"]["name"] for s in uses(deploy["jobs"][name], "actions/download-artifact")]
        assert "synth" in downloads, f"{name} does not use the one synthesis"


def test_one_approval_after_the_plan_and_apply_of_that_plan(deploy):
    with_environment = [name for name, job in deploy["jobs"].items() if "environment" in job]
    assert with_environment == ["apply"]
    assert "plan" in needs(deploy["jobs"]["apply"])
    assert "plan" in [s["with"]["name"] for s in uses(deploy["jobs"]["apply"], "actions/download-artifact")]
    apply_runs = runs(deploy["jobs"]["apply"])
    assert re.search(r"apply -input=false app\.tfplan", apply_runs) and " plan " not in apply_runs
    plan_runs = runs(deploy["jobs"]["plan"])
    assert "-out=app.tfplan" in plan_runs and "-lock=false" in plan_runs and "tools.plan_summary" in plan_runs


def test_identities_per_job(deploy):
    """Deployer only where the approval is; builds as the builder; the rest read-only."""
    expected = {"preflight": "planner", "build-images": "builder", "plan": "planner", "apply": "deployer", "verify": "planner"}
    for name, identity in expected.items():
        [auth] = uses(deploy["jobs"][name], "google-github-actions/auth")
        assert auth["with"] == {
            "workload_identity_provider": "${{ needs.prepare.outputs.provider }}",
            "service_account": f"${{{{ needs.prepare.outputs.{identity} }}}}",
        }
        # The approved job also reads the caller's environment (actions: read).
        extra = {"actions": "read"} if name == "apply" else {}
        assert deploy["jobs"][name]["permissions"] == {"contents": "read", "id-token": "write", **extra}
    assert not uses(deploy["jobs"]["prepare"], "google-github-actions/auth")


def test_preflight_before_anything_changes(deploy):
    assert "make preflight" in runs(deploy["jobs"]["preflight"]) and "IDENTITY=planner" in runs(deploy["jobs"]["preflight"])
    assert "preflight" in needs(deploy["jobs"]["build-images"])
    assert "make preflight" in runs(deploy["jobs"]["apply"]) and "IDENTITY=deployer" in runs(deploy["jobs"]["apply"])


def test_build_matrix_and_rebuild_skip(deploy):
    job = deploy["jobs"]["build-images"]
    assert job["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.prepare.outputs.matrix) }}"
    assert "gcloud artifacts docker images describe" in runs(job), "an existing tag must not be rebuilt"


STAND_IN = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0") $*" in
  "gcloud artifacts docker images describe "*) [ -e "$REGISTRY/${5##*:}" ] ;;
esac
"""


@pytest.mark.parametrize(
    ("build", "in_registry", "exit_code", "built"), [(True, False, 0, True), (True, True, 0, False), (False, True, 0, False), (False, False, 1, False)]
)
def test_the_build_step_builds_only_what_app_ref_tags(deploy, tmp_path, build, in_registry, exit_code, built):
    """The build step's script with stand-in gcloud and docker: a tag named by
    image_tags (build false) is deployed only when the registry has it; only
    the tag of app_ref's own commit (build true) is built."""
    [step] = [s for s in deploy["jobs"]["build-images"]["steps"] if "docker build" in s.get("run", "")]
    (tmp_path / "bin").mkdir()
    for tool in ("gcloud", "docker"):
        (tmp_path / "bin" / tool).write_text(STAND_IN)
        (tmp_path / "bin" / tool).chmod(0o755)
    (tmp_path / "registry").mkdir()
    if in_registry:
        (tmp_path / "registry" / "v1.0.0-22403cf").write_text("")
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls"),
        "REGISTRY": str(tmp_path / "registry"),
        "RUNNER_TEMP": str(tmp_path),
        "REF": "us-east4-docker.pkg.dev/p/r/mesh:v1.0.0-22403cf",
        "DOCKERFILE": "mesh/Dockerfile",
        "CONTEXT": "mesh",
        "BUILD_ARGS": "[]",
        "BUILD": "true" if build else "false",
    }
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=env, capture_output=True, text=True)
    assert result.returncode == exit_code, result.stdout + result.stderr
    calls = (tmp_path / "calls").read_text() if (tmp_path / "calls").exists() else ""
    assert ("docker build" in calls) == built, calls
    if exit_code:
        assert "is not in the registry (or the builder cannot read it): image_tags deploys only tags built before" in result.stdout


def test_least_permissions_and_one_deploy_per_environment(deploy, pull_request, drift):
    assert deploy["permissions"] == {} and pull_request["permissions"] == {} and drift["permissions"] == {}
    # One deploy branch is one environment: the caller's ref keys the queue.
    assert deploy["concurrency"] == {"group": "deploy-${{ github.repository }}-${{ github.ref }}", "cancel-in-progress": False}


def test_no_keys_and_no_pushes_to_the_repository():
    for path in all_workflows():
        text = path.read_text()
        assert "credentials_json" not in text, path.name
        assert "git push" not in text and "git commit" not in text, path.name
        for _, step in all_steps(load(path)):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_caller_calls_our_deploy_at_main_with_the_commit(platform):
    caller = load(CALLER)
    assert set(caller["on"]["push"]["branches"]) == {e.deploy_branch for e in platform.environments.values()}
    [job] = caller["jobs"].values()
    assert job["uses"] == f"{platform.github.infra_repository}/{platform.github.deploy_workflow}@{platform.github.infra_ref.removeprefix('refs/heads/')}"
    assert job["permissions"] == {"actions": "read", "contents": "read", "id-token": "write"}
    assert "github.sha" in job["with"]["app_ref"]
    assert "environment" not in job["with"], "the called workflow derives the environment from the ref"


def test_pull_request_runs_tests_diff_plan_and_validate(pull_request):
    jobs = pull_request["jobs"]
    assert "make test" in runs(jobs["test"]) and "make rehearse" in runs(jobs["test"])
    assert "synth-diff BASE=" in runs(jobs["synth-diff"])
    assert "tools/plan_deployed.sh" in runs(jobs["plan"])
    assert uses(jobs["plan"], "google-github-actions/auth")[0]["with"]["service_account"] == "${{ steps.identities.outputs.planner }}"
    script = uses(jobs["comment"], "actions/github-script")[0]["with"]["script"]
    assert "<!-- cdktf-synth-diff -->" in script and "updateComment" in script
    assert "init -backend=false" in runs(jobs["validate"]) and "validate" in runs(jobs["validate"])


def test_drift_plans_on_a_schedule_and_never_applies(drift):
    assert "schedule" in drift["on"]
    text = (WORKFLOWS / "drift.yml").read_text()
    assert not re.search(r"\bapply\b", text) and "tools/drift_check.sh" in text
    assert uses(drift["jobs"]["plan"], "google-github-actions/auth")[0]["with"]["service_account"] == "${{ steps.identities.outputs.planner }}"


def test_every_action_is_pinned_by_full_commit():
    for path in all_workflows():
        for _, step in all_steps(load(path)):
            reference = step.get("uses")
            if reference and not reference.startswith("./"):
                _, ref = reference.split("@")
                assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {reference} is not pinned by commit"
    policies = yaml.safe_load((ROOT / ".github" / "zizmor.yml").read_text())["rules"]["unpinned-uses"]["config"]["policies"]
    assert not [name for name in policies if not name.startswith("Peleke/")], "a tag-pin exception is back"


def test_every_readme_section_a_workflow_or_tool_points_to_exists():
    """`(README, "Section")` or `(README, "Section: detail")` in a workflow or
    in the code that prints messages names a heading."""
    headings = [line.lstrip("#").strip() for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("#")]
    code = [path for folder in ("tools", "platform_config", "stacks", "constructs_lib") for path in (ROOT / folder).rglob("*.py")]
    for path in sorted([*WORKFLOWS.glob("*.yml"), *code]):
        text = path.read_text()
        for section in re.findall(r'README, "([^"]+)"', text) + re.findall(r"\(README, ([A-Z][^,)\"]+)", text):
            name = section.split(":")[0]
            assert any(h in (section, name) or h.startswith(f"{name} ") for h in headings), (
                f"{path.name} points to README section {name!r}, which does not exist"
            )


# --- hygiene (issue 23) ---------------------------------------------------------------


def own_workflows() -> dict[str, dict]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


def test_every_run_stops_at_its_first_failing_command():
    """`shell: bash` (GitHub runs `bash --noprofile --norc -eo pipefail {0}`)
    for every run: step; no command substitution inside an echo or a process
    substitution, where bash ignores the command's failure."""
    for name, workflow in own_workflows().items():
        default = workflow.get("defaults", {}).get("run", {}).get("shell")
        for job_name, step in all_steps(workflow):
            if "run" not in step:
                continue
            assert step.get("shell", default) == "bash", f"{name} {job_name}: {step['run'][:60]!r} runs without bash -eo pipefail"
            for line in step["run"].splitlines():
                assert not re.search(r"\becho\b.*\$\(", line) and "<(" not in line, f"{name} {job_name}: a failure hides in {line.strip()!r}"


def test_reports_survive_a_failure_not_a_cancel():
    for path in all_workflows():
        assert "always()" not in path.read_text(), f"{path.name}: always() runs after a cancel too; use !cancelled()"
    for name, workflow in own_workflows().items():
        for job_name, job in workflow["jobs"].items():
            if job_name in ("comment", "required"):
                assert "!cancelled()" in job["if"], f"{name} {job_name}"


def test_every_artifact_can_be_uploaded_again_by_a_rerun():
    """upload-artifact (since v4) refuses a second artifact of one name in a run (409):
    a re-run job overwrites its own."""
    uploads = [(name, step) for name, workflow in own_workflows().items() for _, step in all_steps(workflow) if "upload-artifact@" in str(step.get("uses"))]
    assert uploads
    for name, step in uploads:
        assert step["with"].get("overwrite") is True, f"{name}: {step['with']['name']}"


REQUIRED_JOB = "required"


@pytest.mark.parametrize("workflow_name", ["pull-request.yml", "drift.yml"])
def test_one_aggregated_check_of_a_fixed_name(workflow_name):
    workflow = own_workflows()[workflow_name]
    job = workflow["jobs"][REQUIRED_JOB]
    assert "${{" not in job["name"], "a required check's name must not depend on the run"
    assert set(needs(job)) == set(workflow["jobs"]) - {REQUIRED_JOB}, "the aggregate needs every other job"
    assert "strategy" not in job and job["if"] == "${{ !cancelled() }}"
    for matrix_job in [name for name, other in workflow["jobs"].items() if "strategy" in other]:
        assert matrix_job in needs(job)


@pytest.mark.parametrize(
    ("results", "passes"),
    [
        ({"test": "success", "plan": "success"}, True),
        ({"test": "success", "plan": "skipped"}, True),
        ({"test": "failure", "plan": "skipped"}, False),
        ({"test": "success", "plan": "cancelled"}, False),
    ],
)
def test_the_aggregated_check_fails_on_a_failed_or_cancelled_job(results, passes):
    """The aggregate's own script, run with bash -eo pipefail as GitHub does, on `needs` as GitHub gives it."""
    [step] = own_workflows()["pull-request.yml"]["jobs"][REQUIRED_JOB]["steps"]
    needs_context = {job: {"result": result, "outputs": {}} for job, result in results.items()}
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={"NEEDS": json.dumps(needs_context), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert (result.returncode == 0) == passes, result
    assert all(f"{job}: {outcome}" in result.stdout for job, outcome in results.items())


def test_environments_without_a_project_number_are_skipped_with_a_notice(pull_request, drift):
    """The plan matrices list only environments CI can plan; the others get a notice, and no matrix is empty."""
    for workflow, job_name in ((pull_request, "synth-diff"), (drift, "environments")):
        script = runs(workflow["jobs"][job_name])
        assert "ci_plan unplanned-notices" in script and "ci_plan planned-environments" in script
    assert "needs.synth-diff.outputs.environments != '[]'" in pull_request["jobs"]["plan"]["if"]
    assert drift["jobs"]["plan"]["if"] == "needs.environments.outputs.environments != '[]'"


def test_comment_and_issue_bodies_are_capped(pull_request, drift):
    job = pull_request["jobs"]["comment"]
    [step] = [s for s in job["steps"] if s.get("name") == "comment body"]
    assert "tools.report_body" in step["run"] and "/actions/runs/" in json.dumps(step)
    [script] = uses(job, "actions/github-script")
    assert "process.env.BODY_FILE" in script["with"]["script"] and "readFileSync(process.env.BODY_FILE" in script["with"]["script"]
    # The drift issue's body is the capped report, written by tools/drift_issue.py.
    [step] = [s for s in drift["jobs"]["plan"]["steps"] if "tools.drift_issue" in s.get("run", "") and "failed" not in s["run"]]
    capped = re.search(r"tools\.report_body .*> \"(\$RUNNER_TEMP/[\w.-]+)\"", step["run"])
    assert capped and f'"{capped.group(1)}"' in step["run"].split("tools.drift_issue", 1)[1] and "/actions/runs/" in json.dumps(step)


def test_a_failed_drift_check_is_reported_and_a_clean_one_closes_the_issue(drift):
    steps = drift["jobs"]["plan"]["steps"]
    [check] = [s for s in steps if "tools/drift_check.sh" in s.get("run", "")]
    [report] = [s for s in steps if '"$OUTCOME"' in s.get("run", "")]
    assert "outcome=clean" in check["run"] and "outcome=drift" in check["run"] and "if" not in report
    [failed] = [s for s in steps if "tools.drift_issue" in s.get("run", "") and s["run"].rstrip().endswith("failed")]
    assert failed["if"] == "failure()" and failed["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert drift["jobs"]["plan"]["permissions"]["issues"] == "write"


# Each report artifact of pull-request.yml and the one file it holds.
REPORT_FILES = {"report-synth-diff": "synth-diff.md", "report-plan-production": "plan-summary.md", "report-plan-staging": "plan-summary.md"}


@pytest.mark.parametrize("artifacts", [["report-synth-diff"], sorted(REPORT_FILES)], ids=["one-artifact", "several-artifacts"])
def test_the_comment_holds_every_report_however_many_artifacts_matched(pull_request, tmp_path, artifacts):
    """download-artifact (v5 on, its src/download-artifact.ts) extracts a
    pattern's only match into `path` itself, several into `path/<artifact>/`:
    the comment body step reads the reports in either layout."""
    job = pull_request["jobs"]["comment"]
    [download] = uses(job, "actions/download-artifact")
    assert download["with"]["pattern"] == "report-*" and "merge-multiple" not in download["with"]
    reports = tmp_path / download["with"]["path"]
    for artifact in artifacts:
        folder = reports if len(artifacts) == 1 else reports / artifact
        folder.mkdir(parents=True, exist_ok=True)
        (folder / REPORT_FILES[artifact]).write_text(f"the report of {artifact}\n")
    [step] = [s for s in job["steps"] if s.get("name") == "comment body"]
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "RUNNER_TEMP": str(tmp_path)}
    env |= {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "octo-org/octo-repo", "GITHUB_RUN_ID": "1"}
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "comment.md").read_text()
    for artifact in artifacts:
        assert f"the report of {artifact}" in body


def test_the_environment_is_checked_before_the_deployers_token(deploy):
    """In the approved job, the caller's environment is read (reviewers, no
    administrator bypass) before the deployer is asked for."""
    apply = deploy["jobs"]["apply"]
    steps = apply["steps"]
    [check] = [i for i, step in enumerate(steps) if "tools.environment_protection" in step.get("run", "")]
    [auth] = [i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith("google-github-actions/auth@")]
    assert check < auth and steps[auth]["with"]["service_account"] == "${{ needs.prepare.outputs.deployer }}"
    assert steps[check]["env"]["GITHUB_TOKEN"] == "${{ github.token }}" and apply["permissions"]["actions"] == "read"


def test_a_private_infrastructure_repository_is_read_with_the_callers_token(deploy):
    """The caller's GITHUB_TOKEN reads only the caller's repository: every
    checkout of this repository takes the declared, optional infra_read_token,
    else that GITHUB_TOKEN (this repository public); the caller passes its secret."""
    secret = deploy["on"]["workflow_call"]["secrets"]["infra_read_token"]
    assert secret["required"] is False
    checkouts = [step for _, step in all_steps(deploy) if step.get("with", {}).get("repository") == INFRA_CHECKOUT["repository"]]
    assert len(checkouts) == len(DEPLOY_ORDER) - 1
    for step in checkouts:
        assert step["with"]["token"] == "${{ secrets.infra_read_token || github.token }}"
    application = [step for _, step in all_steps(deploy) if step.get("with", {}).get("repository") == "${{ github.repository }}"]
    assert application and all("token" not in step["with"] for step in application), "the application is read with the caller's own token"
    [job] = load(CALLER)["jobs"].values()
    assert job["secrets"] == {"infra_read_token": "${{ secrets.INFRA_READ_TOKEN }}"}
