"""A rehearsal world: this project as the infrastructure repository, a small
application repository with the caller workflow, the fake cloud
(`standins.py`), fake-gcs-server for the state bucket, a health server for the
services' URLs; and `act` running the caller, which calls our deploy.yml.

What is substituted, because act lacks it (README, "What the rehearsal proves"):
`job.workflow_repository` / `job.workflow_sha` are written into the rehearsal's
copy of the workflows as the infrastructure repository's name and main branch,
and the OIDC token's claims are computed from the run (caller repository, ref,
event, the caller's workflow file at the configured `app_deploy_workflow`, the
called workflow, and the job's `environment:` as act evaluates it:
the rehearsal's copy gives each job with an `environment:` the same expression
as the variable ENVIRONMENT_CLAIM, since act shows the environment nowhere).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from platform_config import load_platform
from platform_config.model import GitHub
from platform_config.naming import (
    INFRASTRUCTURE_COMMIT_OUTPUT,
    app_stack_name,
    bootstrap_stack_name,
    service_account_email,
    workload_identity_provider_name,
)
from platform_config.workload_identity import deploy_workflow_ref
from tests import fake_google_apis
from tests.fake_github import FakeGitHub, empty_state

from .standins import ENVIRONMENT_CLAIM

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOME = Path(__file__).resolve().parent
ACT = Path(sys.executable).parent / "act"
CALLER = PROJECT_ROOT / "examples" / "app-repository" / ".github" / "workflows" / "deploy.yml"
# Rehearsal-only project numbers: the default configuration does not know the real ones.
PROJECT_NUMBER_BASE = 100000000000
# GitHub ids of the application and infrastructure repositories in the rehearsal.
REPOSITORY_ID_BASE = 700000001
ACT_TIMEOUT_SECONDS = 600
# The application repository's secret INFRA_READ_TOKEN when the infrastructure repository is private.
INFRA_READ_TOKEN = "github_pat_rehearsal_read_only"
DRIFT_WORKFLOW = ".github/workflows/drift.yml"
# The stand-in of GitHub's REST API keeps its state here, in each scenario's world.
GITHUB_STATE = "github.json"
# The change merge_after_deploy commits to this repository.
MERGED_CHANGE = "MERGED_AFTER_DEPLOY.md"
MERGED_SUBJECT = "a change merged after the deploy"


def _workflow(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def pinned_actions(workflows: list[Path]) -> dict[str, str]:
    """OWNER/REPO@SHA of every remote action the workflows use -> stand-in folder."""
    mapping = {}
    for path in workflows:
        for job in _workflow(path)["jobs"].values():
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if "@" in uses and not uses.startswith("./"):
                    name = uses.split("@")[0].split("/", 1)[1]
                    mapping[uses] = str(HOME / "actions" / name)
    return mapping


# act's host runner hands its environment to the steps; a runner has no make
# around it, whose MAKEFLAGS (make VENV=...) would reach the workflows' make.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def runner_environment(path: str) -> dict[str, str]:
    return {**{name: value for name, value in os.environ.items() if name not in MAKE_VARIABLES}, "PATH": path}


def with_environment_claims(path: Path) -> None:
    """Give every job with an `environment:` the same expression as the job
    variable ENVIRONMENT_CLAIM: GitHub puts the evaluated value in the job's
    token, act evaluates the variable identically (the copy loses comments)."""
    workflow = _workflow(path)
    jobs = [job for job in workflow["jobs"].values() if "environment" in job]
    for job in jobs:
        environment = job["environment"]
        job.setdefault("env", {})[ENVIRONMENT_CLAIM] = environment["name"] if isinstance(environment, dict) else environment
    if jobs:
        path.write_text(yaml.safe_dump(workflow, sort_keys=False, width=1000))


@dataclass
class Scenario:
    name: str
    environment: str = "production"
    caller: str | None = None  # default: the configured application repository
    missing_state_bucket: bool = False
    fail_builds: list[str] = field(default_factory=list)
    unhealthy: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    # A new application release (VERSION) committed before the run: new tags, so every image is built.
    app_version: str | None = None
    # Dispatched by hand from this branch of the application, made from the
    # current head (on GitHub a push from it is filtered out, a dispatch is not).
    branch: str | None = None
    # Tags in the registry before the run, for every image (an earlier release).
    seed_tag: str | None = None
    # Run this repository's drift workflow instead of the application's caller.
    drift: bool = False
    # Resource types of which one resource is changed outside OpenTofu before the run.
    drifted: list[str] = field(default_factory=list)
    # A change merged to this repository's main after the last deploy (the
    # deployed state records the commit before it).
    merged_after_deploy: bool = False
    # Every plan fails as a planner missing a permission would (403).
    failing_plans: bool = False
    # Once the first attempt failed (an unhealthy service), the services are
    # made healthy and the run is started again in the same world, its first
    # attempt's artifacts still stored: a re-run.
    rerun: bool = False
    # The application repository's GitHub environment as GitHub creates it on
    # first use: no required reviewers (otherwise it has them, without bypass).
    unprotected_environment: bool = False
    # The infrastructure repository is private: its checkouts need the
    # caller's INFRA_READ_TOKEN secret, given to act unless this is "missing".
    private_infra: str | None = None  # "given" or "missing"


def workflow_run(github: GitHub, scenario: Scenario, deploy_branch: str) -> tuple[str, str, str]:
    """Repository, workflow file and ref of the run act starts: this
    repository's drift workflow, or the application's caller
    (`app_deploy_workflow`) at the scenario's branch."""
    if scenario.drift:
        return github.infra_repository, DRIFT_WORKFLOW, github.infra_ref
    return scenario.caller or github.app_repository, github.app_deploy_workflow, f"refs/heads/{scenario.branch or deploy_branch}"


def token_workflow_refs(github: GitHub, scenario: Scenario, deploy_branch: str) -> dict[str, str]:
    """The token's `workflow_ref` (the workflow run) and `job_workflow_ref`
    (our deploy workflow when the caller calls it, else the one run), as the
    variables the auth stand-in reads."""
    repository, workflow, ref = workflow_run(github, scenario, deploy_branch)
    workflow_ref = f"{repository}/{workflow}@{ref}"
    return {
        "REHEARSAL_WORKFLOW_REF": workflow_ref,
        "REHEARSAL_JOB_WORKFLOW_REF": workflow_ref if scenario.drift else deploy_workflow_ref(github),
    }


class HealthServer(ThreadingHTTPServer):
    """Answers GET /<service>/<path>: 200, or 503 for the world's unhealthy services."""

    def __init__(self, world: Path):
        self.world = world
        super().__init__(("127.0.0.1", 0), _HealthHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HealthHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        unhealthy_file = self.server.world / "unhealthy"
        unhealthy = set(unhealthy_file.read_text().split()) if unhealthy_file.exists() else set()
        service = self.path.strip("/").split("/")[0]
        self.send_response(503 if service in unhealthy else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Rehearsal:
    """One world per rehearsal; scenarios run one after another in it."""

    def __init__(self, workdir: Path, gcs, google):
        self.workdir = workdir
        self.gcs = gcs
        self.google = google
        raw = yaml.safe_load((PROJECT_ROOT / "config" / "platform.yaml").read_text())
        self.config = copy.deepcopy(raw)
        for index, environment in enumerate(self.config["environments"].values()):
            environment["project_number"] = str(PROJECT_NUMBER_BASE + index)
        # As `make repository-ids` writes them: production (protected) deploys only with both.
        self.config["github"].update(app_repository_id=REPOSITORY_ID_BASE, infra_repository_id=REPOSITORY_ID_BASE + 1)
        self.config_path = workdir / "platform.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.platform = load_platform(self.config_path)
        self.github = self.config["github"]
        self.infra = self._infra_repository()
        self.app = self._app_repository()
        self.providers = self._providers()

    # --- the two repositories ---------------------------------------------------

    def _infra_repository(self) -> Path:
        """This project as committed plus uncommitted files, with the workflow
        contexts act lacks written in."""
        infra = self.workdir / "infra"
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout.split()
        for name in files:
            source = PROJECT_ROOT / name
            if source.is_file() and not source.is_symlink():
                (infra / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, infra / name)
        shutil.copy2(self.config_path, infra / "config" / "platform.yaml")
        for workflow in (infra / ".github" / "workflows").glob("*.yml"):
            text = workflow.read_text()
            text = text.replace("${{ job.workflow_repository }}", self.github["infra_repository"])
            text = text.replace("${{ job.workflow_sha }}", self.github["infra_ref"].removeprefix("refs/heads/"))
            workflow.write_text(text)
            with_environment_claims(workflow)
        self._commit(infra, "infrastructure")
        return infra

    def _app_repository(self) -> Path:
        app = self.workdir / "app"
        caller = app / self.platform.github.app_deploy_workflow
        caller.parent.mkdir(parents=True)
        shutil.copy2(CALLER, caller)
        (app / "VERSION").write_text("1.0.0\n")
        for service in self.platform.services:
            (app / service.build.context).mkdir(parents=True, exist_ok=True)
            (app / service.build.dockerfile).parent.mkdir(parents=True, exist_ok=True)
            (app / service.build.dockerfile).write_text(f"FROM scratch\n# {service.image}\n")
        self._commit(app, "application")
        for environment in self.platform.environments.values():
            if environment.deploy_branch != "main":
                subprocess.run(["git", "-C", str(app), "branch", environment.deploy_branch], check=True)
        return app

    @staticmethod
    def _commit(directory: Path, message: str) -> None:
        if not (directory / ".git").exists():
            subprocess.run(["git", "init", "-q", "-b", "main"], cwd=directory, check=True)
        for command in (
            ["git", "add", "-A"],
            ["git", "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@localhost", "commit", "-q", "-m", message],
        ):
            subprocess.run(command, cwd=directory, check=True)

    def _providers(self) -> dict:
        """Workload Identity provider name -> the synthesized condition and
        mapping, and which access each service account's binding admits."""
        outdir = self.workdir / "synth"
        env = {**os.environ, "PLATFORM_CONFIG": str(self.config_path), "CDKTF_OUTDIR": str(outdir)}
        subprocess.run([sys.executable, "main.py"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
        providers = {}
        for env_name, environment in self.platform.environments.items():
            stack = json.loads((outdir / "stacks" / bootstrap_stack_name(env_name) / "cdk.tf.json").read_text())
            resources = stack["resource"]
            [provider] = resources["google_iam_workload_identity_pool_provider"].values()
            accounts = {}
            for binding in resources.get("google_service_account_iam_binding", {}).values():
                if binding["role"] != "roles/iam.workloadIdentityUser":
                    continue
                reference = binding["service_account_id"].removeprefix("${").removesuffix(".name}").split(".")[1]
                account_id = resources["google_service_account"][reference]["account_id"]
                email = service_account_email(account_id, environment.project_id)
                accounts[email] = [member.rsplit("/", 1)[-1] for member in binding["members"]]
            assert environment.project_number is not None  # __init__ sets one in every environment
            name = workload_identity_provider_name(environment.project_number, environment.workload_identity.pool_id, environment.workload_identity.provider_id)
            providers[name] = {"condition": provider["attribute_condition"], "mapping": provider["attribute_mapping"], "accounts": accounts}
        return providers

    # --- one scenario -------------------------------------------------------------

    def run(self, scenario: Scenario) -> Outcome:
        world = self.workdir / "world" / scenario.name
        world.mkdir(parents=True)
        (world / "credentials.json").write_text("{}")
        if scenario.unhealthy:
            (world / "unhealthy").write_text(" ".join(scenario.unhealthy))
        self._carry_over_cloud(world)
        environment = self.platform.environments[scenario.environment]
        self.gcs.reset()
        self.google.fake.reset()
        self.google.fake.provision(self.platform, scenario.environment)
        fake_google_apis.provision_buckets(self.gcs, self.google.fake, self.platform, scenario.environment, state_bucket=not scenario.missing_state_bucket)
        self._seed(world, scenario)
        self._github_state(world, scenario)
        health = HealthServer(world)
        github = FakeGitHub(world / GITHUB_STATE)
        repository, workflow, ref = workflow_run(self.platform.github, scenario, environment.deploy_branch)
        if scenario.drift:
            directory, event_name = self.infra, "schedule"
        else:
            directory = self.app
            event_name = "workflow_dispatch" if scenario.inputs or scenario.branch else "push"
            checkout = ["-B", scenario.branch] if scenario.branch else [environment.deploy_branch]
            subprocess.run(["git", "-C", str(self.app), "checkout", "-q", *checkout], check=True)
            if scenario.app_version:
                (self.app / "VERSION").write_text(f"{scenario.app_version}\n")
                subprocess.run(
                    [
                        "git",
                        "-C",
                        str(self.app),
                        "-c",
                        "user.name=rehearsal",
                        "-c",
                        "user.email=rehearsal@localhost",
                        "commit",
                        "-q",
                        "-am",
                        f"release {scenario.app_version}",
                    ],
                    check=True,
                )
        subprocess.run(["git", "-C", str(directory), "remote", "remove", "origin"], capture_output=True)
        subprocess.run(["git", "-C", str(directory), "remote", "add", "origin", f"https://github.com/{repository}"], check=True)
        sha = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        event = world / "event.json"
        event.write_text(json.dumps({"ref": ref, "after": sha, "inputs": scenario.inputs, "repository": {"full_name": repository}}))
        env = {
            "REHEARSAL_PYTHON": sys.executable,
            "REHEARSAL_HOME": str(HOME),
            "REHEARSAL_WORLD": str(world),
            "REHEARSAL_REPOSITORIES": json.dumps({repository: str(directory), self.github["infra_repository"]: str(self.infra)}),
            "REHEARSAL_PROVIDERS": json.dumps(self.providers),
            "REHEARSAL_REPOSITORY_IDS": json.dumps({self.github[name]: self.github[f"{name}_id"] for name in ("app_repository", "infra_repository")}),
            **token_workflow_refs(self.platform.github, scenario, environment.deploy_branch),
            "REHEARSAL_REF": ref,
            "REHEARSAL_ENV": scenario.environment,
            "REHEARSAL_RUN_BASE": health.base,
            "GITHUB_API_STANDIN_URL": github.url,
            "REHEARSAL_FAIL_BUILD": " ".join(scenario.fail_builds),
            "REHEARSAL_FAIL_PLAN": "1" if scenario.failing_plans else "",
            "PATH": f"{HOME / 'bin'}:{os.environ['PATH']}",
            # The real preflight, against the fake Google APIs (storage proxied to fake-gcs-server).
            "STORAGE_EMULATOR_HOST": self.google.url,
            "PREFLIGHT_API_ENDPOINT": self.google.url,
            "PREFLIGHT_ANONYMOUS_CREDENTIALS": "1",
            "PLATFORM_CONFIG": "config/platform.yaml",
            "VERIFY_ATTEMPTS": "2",
            "VERIFY_INTERVAL_SECONDS": "0.2",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        command = [
            str(ACT),
            event_name,
            "-W",
            workflow,
            "-e",
            str(event),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--action-offline-mode",
            "--no-skip-checkout",
            "--json",
            "--local-repository",
            f"{self.github['infra_repository']}@main={self.infra}",
        ]
        for uses, folder in pinned_actions(list((self.infra / ".github" / "workflows").glob("*.yml"))).items():
            command += ["--local-repository", f"{uses}={folder}"]
        for name, value in env.items():
            command += ["--env", f"{name}={value}"]
        if scenario.private_infra:
            readable = {"repository": self.github["infra_repository"], "token": INFRA_READ_TOKEN}
            (world / "private-repository.json").write_text(json.dumps(readable))
            if scenario.private_infra == "given":
                command += ["-s", f"INFRA_READ_TOKEN={INFRA_READ_TOKEN}"]
        try:
            result = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=ACT_TIMEOUT_SECONDS, env=runner_environment(env["PATH"]))
            if scenario.rerun:
                (world / "first-attempt.log").write_text(result.stdout + result.stderr)
                (world / "unhealthy").unlink(missing_ok=True)
                result = subprocess.run(
                    command, cwd=directory, capture_output=True, text=True, timeout=ACT_TIMEOUT_SECONDS, env=runner_environment(env["PATH"])
                )
        finally:
            health.shutdown()
            github.shutdown()
        (world / "act.log").write_text(result.stdout + result.stderr)
        return Outcome(world, result.returncode, result.stdout + result.stderr, scenario.environment)

    def _seed(self, world: Path, scenario: Scenario) -> None:
        if scenario.seed_tag:
            for service in self.platform.services:
                image = world / "registry" / service.image / scenario.seed_tag
                image.parent.mkdir(parents=True, exist_ok=True)
                image.write_text(scenario.seed_tag)
        for kind in scenario.drifted:
            state_file = world / "state" / f"{app_stack_name(scenario.environment)}.json"
            state = json.loads(state_file.read_text())
            address = next(a for a in sorted(state["resources"]) if a.startswith(f"{kind}."))
            state["resources"][address] = "changed in the console"
            state_file.write_text(json.dumps(state))
        if scenario.merged_after_deploy:
            state_file = world / "state" / f"{app_stack_name(scenario.environment)}.json"
            state = json.loads(state_file.read_text())
            deployed = subprocess.run(["git", "-C", str(self.infra), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
            state["outputs"][INFRASTRUCTURE_COMMIT_OUTPUT] = {"value": deployed}
            state_file.write_text(json.dumps(state))
            (self.infra / MERGED_CHANGE).write_text("merged after the deploy\n")
            self._commit(self.infra, MERGED_SUBJECT)

    def _github_state(self, world: Path, scenario: Scenario) -> None:
        """GitHub as the stand-in (tests/fake_github.py) answers it: the
        application repository's environments as "Get an environment"
        describes them, with required reviewers that administrators cannot
        bypass, or, as created on first use, no rules; the issues carried over."""
        reviewers = {"type": "required_reviewers", "id": 1, "prevent_self_review": False, "reviewers": [{"type": "User", "reviewer": {"login": "octocat"}}]}
        state_file = world / GITHUB_STATE
        state = json.loads(state_file.read_text()) if state_file.exists() else empty_state()
        state["environments"] = {
            f"{self.github['app_repository']}/{name}": {
                "name": name,
                "can_admins_bypass": scenario.unprotected_environment,
                "protection_rules": [] if scenario.unprotected_environment else [reviewers],
            }
            for name in self.platform.environments
        }
        state["requests"] = []
        state_file.write_text(json.dumps(state))

    def _carry_over_cloud(self, world: Path) -> None:
        """The registry and state persist from scenario to scenario, as in a real project."""
        previous = sorted((self.workdir / "world").glob("*/"), key=lambda p: p.stat().st_mtime)
        previous = [p for p in previous if p != world]
        if previous:
            for part in ("registry", "state"):
                if (previous[-1] / part).exists():
                    shutil.copytree(previous[-1] / part, world / part)
            if (previous[-1] / GITHUB_STATE).exists():
                shutil.copy2(previous[-1] / GITHUB_STATE, world / GITHUB_STATE)


@dataclass
class Outcome:
    world: Path
    exit_code: int
    log: str
    environment: str  # the scenario's: its deploy branch is the one pushed

    @property
    def records(self) -> list[dict]:
        path = self.world / "records.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def of(self, tool: str) -> list[dict]:
        return [r for r in self.records if r["tool"] == tool]

    def job_results(self) -> dict[str, str]:
        """job id -> success/failure, from act's JSON log (matrix legs fold into one)."""
        results: dict[str, str] = {}
        for line in self.log.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("jobResult"):
                job = entry.get("jobID") or entry.get("job", "")
                if results.get(job) != "failure":
                    results[job] = entry["jobResult"]
        return results
