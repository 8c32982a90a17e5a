"""Stand-ins for what a rehearsal cannot reach: GitHub's remote actions,
Google's STS, `gcloud`, `docker` and `tofu` against Google Cloud.

Each is a subcommand (`standins.py checkout ...`), run by act in a job, and
appends what it was asked to `$REHEARSAL_WORLD/records.jsonl`. The "world"
directory is the fake cloud: `registry/<image>/<tag>` (pushed images),
`state/<stack>.json` (applied state), `artifacts/<name>/`, `unhealthy`
(services whose health check fails), `private-repository.json` (a repository
only its token reads; GitHub's environments, `github-environments.json`, are
served by the harness).

The auth stand-in is the one that decides: it evaluates the synthesized
Workload Identity condition and attribute mapping of the environment (from
the bootstrap stack's JSON) against the claims GitHub would put in the job's
token, with the same evaluator as the truth-table test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TypedDict

WORLD = Path(os.environ.get("REHEARSAL_WORLD", "."))
PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from platform_config.naming import (  # noqa: E402
    IMAGE_TAGS_OUTPUT,
    INFRASTRUCTURE_COMMIT_OUTPUT,
    INFRASTRUCTURE_COMMIT_VARIABLE,
    ROLLOUT_OUTPUT,
    ROLLOUT_VARIABLE,
    app_stack_name,
)

# Files whose modification time tells `make` to reinstall: a fresh clone must
# not look newer than the shared installs.
INSTALL_INPUTS = ("Pipfile.lock", "package-lock.json", "tools/checkov-requirements.txt")
# The job variable holding the job's evaluated `environment:` (the token's
# environment claim); harness.py sets it in the rehearsal's copy of the workflows.
ENVIRONMENT_CLAIM = "REHEARSAL_ENVIRONMENT_CLAIM"


def record(tool: str, **details) -> None:
    entry = {"time": time.time(), "job": os.environ.get("GITHUB_JOB", ""), "tool": tool, **details}
    with (WORLD / "records.jsonl").open("a") as log:
        log.write(json.dumps(entry) + "\n")


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def job_env(name: str, value: str) -> None:
    with open(os.environ["GITHUB_ENV"], "a") as env_file:
        env_file.write(f"{name}={value}\n")


# --- actions -------------------------------------------------------------------


def checkout(_args: list[str]) -> int:
    repositories = json.loads(os.environ["REHEARSAL_REPOSITORIES"])
    repository = os.environ.get("INPUT_REPOSITORY") or os.environ["GITHUB_REPOSITORY"]
    ref = os.environ.get("INPUT_REF") or os.environ.get("GITHUB_SHA") or "HEAD"
    target = Path(os.environ["GITHUB_WORKSPACE"]) / (os.environ.get("INPUT_PATH") or ".")
    record("checkout", repository=repository, ref=ref, path=os.environ.get("INPUT_PATH") or ".", token=bool(os.environ.get("INPUT_TOKEN")))
    if repository not in repositories:
        return fail(f"checkout: repository {repository} not found (the rehearsal knows {sorted(repositories)})")
    # A private repository answers "not found" to a token that may not read it.
    private = WORLD / "private-repository.json"
    if private.exists():
        readable = json.loads(private.read_text())
        if repository == readable["repository"] and os.environ.get("INPUT_TOKEN") != readable["token"]:
            return fail(f"checkout: remote: Repository not found. fatal: repository 'https://github.com/{repository}/' not found")
    if target.exists() and any(target.iterdir()):
        shutil.rmtree(target)
    result = subprocess.run(["git", "clone", "-q", repositories[repository], str(target)], capture_output=True, text=True)
    if result.returncode == 0:
        result = subprocess.run(["git", "-C", str(target), "checkout", "-q", ref], capture_output=True, text=True)
    if result.returncode != 0:
        return fail(f"checkout: {repository}@{ref}: {result.stderr.strip()}")
    # setup-python / npm ci stand-ins: the project's installs, not a new download;
    # .venv is the virtualenv the rehearsal runs in (make test-matrix has one per Python).
    installs = {".venv": Path(sys.prefix), "node_modules": PROJECT_ROOT / "node_modules", ".tools": PROJECT_ROOT / ".tools"}
    for installed, source in installs.items():
        if source.exists() and (target / "Makefile").exists():
            (target / installed).symlink_to(source)
    for name in INSTALL_INPUTS:
        if (target / name).exists():
            os.utime(target / name, (0, 0))
    return 0


def upload_artifact(_args: list[str]) -> int:
    store = WORLD / "artifacts" / os.environ["INPUT_NAME"]
    # upload-artifact (since v4): one artifact per name and run, unless overwritten (a re-run job).
    if store.exists() and os.environ.get("INPUT_OVERWRITE") != "true":
        return fail(
            "upload-artifact: Failed to CreateArtifact: Received non-retryable error: (409) Conflict: "
            f"an artifact with this name already exists on the workflow run: {os.environ['INPUT_NAME']}"
        )
    shutil.rmtree(store, ignore_errors=True)
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    paths = [line.strip() for line in os.environ["INPUT_PATH"].splitlines() if line.strip()]
    found = [workspace / p for p in paths if (workspace / p).exists()]
    if not found:
        return fail(f"upload-artifact: no files found at {paths}")
    store.mkdir(parents=True, exist_ok=True)
    for source in found:
        destination = store / source.name if len(paths) > 1 or source.is_file() else store
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)
    record("upload-artifact", name=os.environ["INPUT_NAME"], paths=paths)
    return 0


def download_artifact(_args: list[str]) -> int:
    name = os.environ.get("INPUT_NAME")
    store = WORLD / "artifacts" / (name or "")
    if not name or not store.is_dir():
        return fail(f"download-artifact: no artifact named {name!r}")
    target = Path(os.environ["GITHUB_WORKSPACE"]) / (os.environ.get("INPUT_PATH") or ".")
    shutil.copytree(store, target, dirs_exist_ok=True)
    record("download-artifact", name=name)
    return 0


def github_script(_args: list[str]) -> int:
    # The body the script would post: the file the workflow hands it.
    body = Path(os.environ.get("BODY_FILE") or "plan-summary.md")
    record("github-script", env=os.environ.get("PLAN_ENV", ""), summary=body.read_text() if body.exists() else "")
    return 0


def _token_claims() -> dict:
    """What GitHub would put in this job's OIDC token (act has no token service)."""
    from platform_config.workload_identity import github_token_claims

    repository = os.environ["GITHUB_REPOSITORY"]
    return github_token_claims(
        repository=repository,
        repository_id=json.loads(os.environ["REHEARSAL_REPOSITORY_IDS"]).get(repository),
        ref=os.environ["REHEARSAL_REF"],
        event_name=os.environ.get("GITHUB_EVENT_NAME", "push"),
        environment=os.environ.get(ENVIRONMENT_CLAIM) or None,
        workflow_ref=os.environ["REHEARSAL_WORKFLOW_REF"],
        job_workflow_ref=os.environ["REHEARSAL_JOB_WORKFLOW_REF"],
    )


def auth(_args: list[str]) -> int:
    from platform_config.workload_identity import granted_access

    provider_name = os.environ["INPUT_PROVIDER"]
    account = os.environ["INPUT_SERVICE_ACCOUNT"]
    providers = json.loads(os.environ["REHEARSAL_PROVIDERS"])
    claims = _token_claims()
    record("auth", provider=provider_name, account=account, claims=claims)
    if provider_name not in providers:
        return fail(f"google-github-actions/auth failed: workload identity provider {provider_name!r} does not exist")
    provider = providers[provider_name]
    access = granted_access(provider["condition"], provider["mapping"], claims)
    if access is None:
        return fail(
            "google-github-actions/auth failed with: failed to generate Google Cloud federated token for "
            f"//iam.googleapis.com/{provider_name}: "
            '{"error":"unauthorized_client","error_description":"The given credential is rejected by the attribute condition."}'
        )
    if access not in provider["accounts"].get(account, []):
        return fail(
            f"google-github-actions/auth failed with: failed to generate Google Cloud access token for {account}: "
            '(403) {"error":{"code":403,"message":"Permission \'iam.serviceAccounts.getAccessToken\' denied",'
            f'"status":"PERMISSION_DENIED"}}}} (token admitted as {access!r}, not bound to this account)'
        )
    record("identity", access=access, account=account)
    job_env("REHEARSAL_IDENTITY", access)
    job_env("GOOGLE_APPLICATION_CREDENTIALS", str(WORLD / "credentials.json"))
    return 0


# --- gcloud and docker -----------------------------------------------------------


def _image_path(reference: str) -> Path:
    image, tag = reference.rsplit("/", 1)[-1].split(":", 1)
    return WORLD / "registry" / image / tag


def gcloud(args: list[str]) -> int:
    record("gcloud", args=args)
    if args[:2] == ["auth", "configure-docker"]:
        return 0
    if args[:4] == ["artifacts", "docker", "images", "describe"]:
        return 0 if _image_path(args[4]).exists() else fail(f"ERROR: (gcloud.artifacts.docker.images.describe) Image not found: {args[4]}")
    if args[:3] == ["run", "services", "describe"]:
        name = args[3]
        state = _state(app_stack_name(os.environ["REHEARSAL_ENV"]))
        if name not in state.get("outputs", {}).get("service_urls", {}).get("value", {}):
            return fail(f"ERROR: (gcloud.run.services.describe) Cannot find service [{name}]")
        revision = f"{name}-{state['serial']:05d}"
        unhealthy = name in _unhealthy()
        print(
            json.dumps(
                {
                    "status": {
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "False" if unhealthy else "True",
                                "message": "Revision failed to start: container exited" if unhealthy else "",
                            }
                        ],
                        "latestCreatedRevisionName": revision,
                        "latestReadyRevisionName": None if unhealthy else revision,
                    }
                }
            )
        )
        return 0
    return fail(f"gcloud stand-in: {' '.join(args)} is not rehearsed")


def _unhealthy() -> set[str]:
    path = WORLD / "unhealthy"
    return set(path.read_text().split()) if path.exists() else set()


def docker(args: list[str]) -> int:
    record("docker", args=args)
    if args and args[0] == "build":
        build_args: list[str] = []
        options: dict[str, str] = {}
        rest = iter(args[1:])
        for arg in rest:
            if arg.startswith("--build-arg="):
                build_args.append(arg.split("=", 1)[1])
            elif arg in ("--file", "--tag"):
                options[arg[2:]] = next(rest)
            else:
                options["context"] = arg
        if not Path(options.get("file", "")).is_file():
            return fail(f"docker build: Dockerfile {options.get('file')} not found")
        image = options["tag"].rsplit("/", 1)[-1].split(":")[0]
        if image in os.environ.get("REHEARSAL_FAIL_BUILD", "").split():
            return fail(f"docker build: {image}: RUN step failed (rehearsed failure)")
        (WORLD / "built").mkdir(exist_ok=True)
        (WORLD / "built" / options["tag"].replace("/", "_")).write_text(json.dumps({"build_args": build_args, **options}))
        return 0
    if args and args[0] == "push":
        if os.environ.get("REHEARSAL_IDENTITY") != "build":
            return fail("docker push: denied: Permission 'artifactregistry.repositories.uploadArtifacts' denied")
        if not (WORLD / "built" / args[1].replace("/", "_")).exists():
            return fail(f"docker push: An image does not exist locally with the tag: {args[1]}")
        _image_path(args[1]).parent.mkdir(parents=True, exist_ok=True)
        _image_path(args[1]).write_text(args[1])
        return 0
    return fail(f"docker stand-in: {' '.join(args)} is not rehearsed")


# --- tofu ------------------------------------------------------------------------


def _state(stack: str) -> dict:
    path = WORLD / "state" / f"{stack}.json"
    return json.loads(path.read_text()) if path.exists() else {"serial": 0, "resources": {}, "outputs": {}}


def _variables(directory: Path, options: list[str], declared: dict) -> dict[str, str]:
    values: dict[str, str] = {}
    for tfvars in sorted(directory.glob("*.auto.tfvars.json")):
        values.update(json.loads(tfvars.read_text()))
    for option in options:
        if option.startswith("-var="):
            name, value = option[5:].split("=", 1)
            values[name] = value
    undeclared = sorted(set(values) - set(declared))
    if undeclared:
        raise SystemExit(f'Error: Value for undeclared variable: a variable named "{undeclared[0]}" was assigned, but the root module does not declare it')
    missing = sorted(name for name, body in declared.items() if name not in values and "default" not in body)
    if missing:
        raise SystemExit(f'Error: No value for required variable: the root module input variable "{missing[0]}" is not set')
    return {name: values.get(name, body.get("default")) for name, body in declared.items()}


def _fill(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{var\.([a-z0-9_]+)\}", lambda m: str(variables.get(m.group(1), "")), text)


def _desired(config: dict, variables: dict[str, str]) -> dict[str, str]:
    """address -> digest of the resource's arguments with variables and the
    images' digests (what the registry holds for each tag) filled in."""
    # The services read `one(<check>[*].self_link)` (the check has a count: plans skip unbuilt images).
    digests = {
        f"one(data.google_artifact_registry_docker_image.{name}[*].self_link)": _digest_of(_fill(body["image_name"], variables))
        for name, body in config.get("data", {}).get("google_artifact_registry_docker_image", {}).items()
    }
    text_of = {}
    for kind, resources in config.get("resource", {}).items():
        for name, body in resources.items():
            text = _fill(json.dumps(body, sort_keys=True), variables)
            for reference, digest in digests.items():
                text = text.replace(reference, digest)
            text_of[f"{kind}.{name}"] = hashlib.sha256(text.encode()).hexdigest()
    return text_of


def _digest_of(image_and_tag: str) -> str:
    path = _image_path(image_and_tag)
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def _missing_images(config: dict, variables: dict[str, str]) -> list[str]:
    """What the plan-time image checks (data sources) would refuse."""
    missing = []
    for body in config.get("data", {}).get("google_artifact_registry_docker_image", {}).values():
        name = _fill(body["image_name"], variables)
        if not _image_path(name).exists():
            missing.append(name)
    return missing


def _outputs(config: dict, variables: dict[str, str]) -> dict:
    """The outputs a real apply would produce: service URLs on the rehearsal's health server."""
    services = [body["name"] for body in config.get("resource", {}).get("google_cloud_run_v2_service", {}).values()]
    base = os.environ["REHEARSAL_RUN_BASE"]
    images = {
        body["image_name"].split(":")[0]: _fill(body["image_name"].split(":", 1)[1], variables)
        for body in config.get("data", {}).get("google_artifact_registry_docker_image", {}).values()
    }
    return {
        "service_urls": {"value": {name: f"{base}/{name}" for name in services}},
        IMAGE_TAGS_OUTPUT: {"value": images},
        ROLLOUT_OUTPUT: {"value": variables.get(ROLLOUT_VARIABLE, "")},
        INFRASTRUCTURE_COMMIT_OUTPUT: {"value": variables.get(INFRASTRUCTURE_COMMIT_VARIABLE, "")},
    }


class Change(TypedDict):
    actions: list[str]


class ResourceChange(TypedDict):
    """One entry of a plan's `resource_changes` (`tofu show -json`)."""

    address: str
    change: Change


def tofu(args: list[str]) -> int:
    directory = Path(".")
    if args and args[0].startswith("-chdir="):
        directory = Path(args[0].split("=", 1)[1])
        args = args[1:]
    command, options = args[0], args[1:]
    stack = directory.resolve().name
    record("tofu", command=command, options=options, stack=stack)
    config_path = directory / "cdk.tf.json"
    if not config_path.is_file():
        return fail(f"Error: No configuration files in {directory}")
    config = json.loads(config_path.read_text())
    declared = config.get("variable", {})
    if command == "init":
        (directory / ".terraform.lock.hcl").write_text("# rehearsal\n")
        return 0
    state = _state(stack)
    if command == "output":
        print(json.dumps(state.get("outputs", {})))
        return 0
    if command == "plan":
        if os.environ.get("REHEARSAL_FAIL_PLAN"):
            return fail("Error: googleapi: Error 403: Permission 'iam.roles.get' denied on resource (or it may not exist)., forbidden")
        try:
            variables = _variables(directory, options, declared)
        except SystemExit as error:
            return fail(str(error))
        missing = _missing_images(config, variables)
        if missing:
            return fail(f"Error: image {missing[0]} not found in the registry (data.google_artifact_registry_docker_image)")
        desired = _desired(config, variables)
        current = state["resources"]
        changes: list[ResourceChange] = [
            {"address": address, "change": {"actions": actions}}
            for address in sorted(set(desired) | set(current))
            if (
                actions := (
                    ["create"]
                    if address not in current
                    else ["delete"]
                    if address not in desired
                    else ["update"]
                    if current[address] != desired[address]
                    else []
                )
            )
        ]
        plan_file = next((o.split("=", 1)[1] for o in options if o.startswith("-out=")), None)
        if plan_file:
            (directory / plan_file).write_text(
                json.dumps({"stack": stack, "serial": state["serial"], "variables": variables, "desired": desired, "resource_changes": changes})
            )
        record(
            "plan",
            stack=stack,
            variables=variables,
            changes=len(changes),
            plan_digest=hashlib.sha256((directory / plan_file).read_bytes()).hexdigest() if plan_file else None,
        )
        print(
            f"Plan: {sum('create' in c['change']['actions'] for c in changes)} to add, "
            f"{sum('update' in c['change']['actions'] for c in changes)} to change, "
            f"{sum('delete' in c['change']['actions'] for c in changes)} to destroy."
        )
        return 2 if changes and "-detailed-exitcode" in options else 0
    if command == "show":
        plan = json.loads((directory / options[-1]).read_text())
        print(json.dumps({"resource_changes": plan["resource_changes"]}))
        return 0
    if command == "apply":
        saved_plan = directory / options[-1]
        if not saved_plan.is_file() or options[-1].startswith("-"):
            return fail("rehearsal: apply without a saved plan file")
        if os.environ.get("REHEARSAL_IDENTITY") != "deploy":
            return fail("Error: googleapi: Error 403: Permission 'run.services.update' denied")
        plan = json.loads(saved_plan.read_text())
        if plan["serial"] != state["serial"]:
            return fail("Error: Saved plan is stale: the state changed since the plan was made; plan again")
        new_state = {"serial": state["serial"] + 1, "resources": plan["desired"], "outputs": _outputs(config, plan["variables"])}
        (WORLD / "state").mkdir(exist_ok=True)
        (WORLD / "state" / f"{stack}.json").write_text(json.dumps(new_state))
        record("apply", stack=stack, variables=plan["variables"], plan_digest=hashlib.sha256(saved_plan.read_bytes()).hexdigest())
        return 0
    return fail(f"tofu stand-in: {command} is not rehearsed")


COMMANDS = {
    "checkout": checkout,
    "auth": auth,
    "upload-artifact": upload_artifact,
    "download-artifact": download_artifact,
    "github-script": github_script,
    "gcloud": gcloud,
    "docker": docker,
    "tofu": tofu,
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
