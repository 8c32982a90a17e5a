"""What the workflows need to know, read from the configuration, so no
workflow holds a list of services, images, environments or identities.

    python -m tools.ci_plan environments
        the configured environments (JSON list)
    python -m tools.ci_plan planned-environments
        those CI can plan, with a project_number (JSON list), for the drift and PR plan matrices
    python -m tools.ci_plan unplanned-notices
        one GitHub `::notice` line per environment left out of those plans, and why
    python -m tools.ci_plan prepare REF APP_DIR [TAG_OVERRIDES_JSON]
        GITHUB_OUTPUT lines for the deploy from REF (refs/heads/<branch>, the caller's
        github.ref): `environment` (the one whose deploy_branch is that branch; any
        other ref, tags and pull requests included, fails), `tags` (image -> tag:
        v<APP_DIR/VERSION>-<short sha of APP_DIR>, and for an image built with the
        service URLs -u<8 hex digits of the URL set>; or the overrides, which must
        name every image), `matrix` (one
        build per image, with its Dockerfile, context, tag and build arguments),
        `stack` (the app stack's folder, where tofu runs), `provider` and the
        `deployer`/`builder`/`planner` service-account emails; a protected
        environment fails while github.*_repository_id is unset
    python -m tools.ci_plan ENV stack
        the folder of the environment's app stack (cdktf.out/stacks/app-ENV)
    python -m tools.ci_plan ENV bootstrap-stack
        the folder of the environment's bootstrap stack when its state is in the
        bucket (bootstrap_backend: gcs), which CI can then plan; exit 3 with a
        note when it is on the admin's machine
    python -m tools.ci_plan ENV deployed-commit OUTPUTS_JSON
        the infrastructure commit the deployed stack records (`tofu output -json`),
        or an empty line for a deploy that recorded none
    python -m tools.ci_plan ENV identities
        GITHUB_OUTPUT lines `provider` and the three service-account emails only
    python -m tools.ci_plan ENV tfvars TAGS_JSON [ROLLOUT [INFRASTRUCTURE_COMMIT]]
        the app stack's inputs: image_tag_<image> for every image, the rollout id and
        this repository's commit (shown by `make deployed`) (tfvars JSON)
    python -m tools.ci_plan ENV deployed-tfvars OUTPUTS_JSON
        the same inputs from `tofu output -json` of the deployed stack (what runs now),
        for plans that must not change images (pull requests, drift); an image the
        deployed stack has no tag for (a service the change adds) is planned as new,
        unbuilt, with a `note:` line on stderr; exit 3 when the stack was never deployed
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from platform_config import Platform, image_tag_variable_name, load_platform
from platform_config.echo import echo_path
from platform_config.loader import config_path
from platform_config.naming import (
    IMAGE_TAGS_OUTPUT,
    INFRASTRUCTURE_COMMIT_OUTPUT,
    INFRASTRUCTURE_COMMIT_VARIABLE,
    ROLLOUT_OUTPUT,
    ROLLOUT_VARIABLE,
    UNBUILT_IMAGES_VARIABLE,
    app_stack_name,
    bootstrap_stack_name,
    registry_url_prefix,
    service_account_email,
    service_url,
    stack_directory,
    workload_identity_provider_name,
)
from tools.cli import InputError, run_tool

# Docker's tag grammar; the app stack validates the same.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# A commit id on GitHub (job.workflow_sha); act's rehearsal passes the ref instead.
COMMIT = re.compile(r"[0-9A-Za-z._/-]{1,255}")
# The tag a plan shows for an image no deploy has built yet (never pushed).
UNBUILT_TAG = "not-built-yet"


class PlanError(InputError):
    """One line for the workflow log; exit 2."""


class NotDeployed(PlanError):
    """Nothing deployed that CI can read: the app stack was never applied, or a
    bootstrap's state is on the admin's machine; exit 3."""

    exit_code = 3


def environment_for_ref(platform: Platform, ref: str) -> str:
    """The environment whose deploy branch REF is: the deploy follows the
    configuration, not an expression in the caller (deploy branches are unique)."""
    for name, environment in platform.environments.items():
        if ref == f"refs/heads/{environment.deploy_branch}":
            return name
    branches = ", ".join(f"refs/heads/{environment.deploy_branch} ({name})" for name, environment in platform.environments.items())
    raise PlanError(
        f"{ref!r} is not a deploy branch: no environments.<name>.deploy_branch in {echo_path(config_path())} names it; "
        f"deploy from one of {branches}, or configure an environment with this deploy_branch"
    )


def images(platform: Platform) -> list[str]:
    """Every image once, in configuration order."""
    return list(dict.fromkeys(s.image for s in platform.services))


def app_tag(app_dir: Path) -> str:
    """v<VERSION>-<short sha>, as the application tagged its images before."""
    version_file = app_dir / "VERSION"
    try:
        version = version_file.read_text().strip()
        sha = subprocess.run(["git", "-C", str(app_dir), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        raise PlanError(f"cannot read the application's version and commit in {app_dir}: {error}") from None
    tag = f"v{version}-{sha}"
    if not TAG.fullmatch(tag):
        raise PlanError(f"{version_file}: {tag!r} is not a Docker tag; VERSION must hold e.g. 1.0.0")
    return tag


def url_set_suffix(build_args: list[str]) -> str:
    """-u and the first 8 hex digits of the SHA-256 of the sorted URL build
    arguments, one per line: an image that bakes the URLs in gets a new tag,
    so it is rebuilt, whenever the set of URLs changes (a service added or
    removed), even from the same application commit."""
    return "-u" + hashlib.sha256("\n".join(sorted(build_args)).encode()).hexdigest()[:8]


def image_tags(platform: Platform, default_tag: str, overrides: dict[str, str], url_suffix: str = "") -> dict[str, str]:
    """image -> tag: the application commit's tag (with `url_suffix` for an
    image built with the service URLs) unless overridden (a rollback)."""
    unknown = sorted(set(overrides) - set(images(platform)))
    if unknown:
        raise PlanError(f"image_tags names unknown image(s) {unknown}; known: {images(platform)}")
    bad = sorted(image for image, tag in overrides.items() if not isinstance(tag, str) or not TAG.fullmatch(tag))
    if bad:
        raise PlanError(f"image_tags has a malformed tag for {bad}; use Docker tags such as v1.0.0-22403cf")
    # The others would silently come from the branch head, undeployed commits included.
    unnamed = [image for image in images(platform) if image not in overrides]
    if overrides and unnamed:
        raise PlanError(
            f"image_tags names {sorted(overrides)} but not {unnamed}: name every image "
            "(`make deployed ENV=<env>` prints what runs and the rollback's image_tags)"
        )
    url_built = {s.image for s in platform.services if s.build.service_url_build_args}
    tags = {image: overrides.get(image, default_tag + (url_suffix if image in url_built else "")) for image in images(platform)}
    too_long = sorted(image for image, tag in tags.items() if not TAG.fullmatch(tag))
    if too_long:
        raise PlanError(f"the tag of {too_long} would be over Docker's 128 characters; shorten the application's VERSION")
    return tags


def _project_number(platform: Platform, env_name: str) -> str:
    number = platform.environments[env_name].project_number
    if not number:
        raise PlanError(
            f"environments.{env_name}.project_number is not set in the configuration; fill it from "
            f"`gcloud projects describe {platform.environments[env_name].project_id} --format='value(projectNumber)'`"
        )
    return number


def _repository_ids_pinned(platform: Platform, env_name: str) -> None:
    """A protected environment deploys only with both repository ids in the
    Workload Identity condition (a repository deleted and re-created under
    the same name is then refused)."""
    github = platform.github
    unset = [field for field in ("app_repository_id", "infra_repository_id") if getattr(github, field) is None]
    if platform.environments[env_name].protected and unset:
        raise PlanError(
            f"{env_name} is protected and github.{' and github.'.join(unset)} {'is' if len(unset) == 1 else 'are'} not set; "
            f"run `make repository-ids` and set them in {echo_path(config_path())} (or set environments.{env_name}.protected: false)"
        )


def planned_environments(platform: Platform) -> list[str]:
    """Environments a plan can reach: the provider's name needs the project number."""
    return [name for name, environment in platform.environments.items() if environment.project_number]


def unplanned_notices(platform: Platform) -> list[str]:
    return [
        f"::notice title=not planned: {name}::environments.{name}.project_number is not set, so {name} is skipped; fill it from "
        f"`gcloud projects describe {platform.environments[name].project_id} --format='value(projectNumber)'`"
        for name in platform.environments
        if name not in planned_environments(platform)
    ]


def build_matrix(platform: Platform, env_name: str, tags: dict[str, str], build: bool = True) -> list[dict]:
    """One build per image. An image built with the service URLs (the gateway)
    gets them as build arguments: the URLs are deterministic, so it is built
    with the others, before any apply. `build` False (tags named by
    image_tags): a tag missing from the registry fails the job instead of
    being built from app_ref, whose code it would not be."""
    environment = platform.environments[env_name]
    matrix: dict[str, dict] = {}
    for service in platform.services:
        if service.image in matrix:
            continue
        args = url_build_args(platform, env_name) if service.build.service_url_build_args else []
        matrix[service.image] = {
            "image": service.image,
            "dockerfile": service.build.dockerfile,
            "context": service.build.context,
            "tag": tags[service.image],
            "ref": f"{registry_url_prefix(environment.region, environment.project_id, environment.registry_repository)}/{service.image}:{tags[service.image]}",
            "build_args": args,
            "build": build,
        }
    return list(matrix.values())


def url_build_args(platform: Platform, env_name: str) -> list[str]:
    """NAME=URL of every service with a url_name: the build arguments of an
    image that bakes the URLs in (the gateway)."""
    environment = platform.environments[env_name]
    number = _project_number(platform, env_name)
    return [f"{s.url_name}={service_url(s.name, number, environment.region)}" for s in platform.services if s.url_name]


def identities(platform: Platform, env_name: str) -> dict[str, str]:
    environment = platform.environments[env_name]
    wi = environment.workload_identity
    emails = {
        role: service_account_email(account_id, environment.project_id)
        for role, account_id in (
            ("deployer", environment.deployer_account_id),
            ("builder", getattr(environment, "builder_account_id", None)),
            ("planner", getattr(environment, "planner_account_id", None)),
        )
        if account_id
    }
    return {"provider": workload_identity_provider_name(_project_number(platform, env_name), wi.pool_id, wi.provider_id), **emails}


def tfvars(platform: Platform, tags: dict[str, str], rollout: str = "", unbuilt: list[str] | None = None, infrastructure_commit: str = "") -> dict:
    """Every input of the app stack: one tag per image, the rollout id (a new
    value starts new revisions: secret rotation), this repository's commit
    and, for plans only, the images no deploy has built yet (a deploy passes none)."""
    missing = sorted(set(images(platform)) - set(tags))
    if missing:
        raise PlanError(f"no tag for image(s) {missing}")
    if infrastructure_commit and not COMMIT.fullmatch(infrastructure_commit):
        raise PlanError(f"INFRASTRUCTURE_COMMIT {infrastructure_commit!r} is not a git commit id")
    return {
        **{image_tag_variable_name(image): tags[image] for image in images(platform)},
        ROLLOUT_VARIABLE: rollout,
        UNBUILT_IMAGES_VARIABLE: unbuilt or [],
        INFRASTRUCTURE_COMMIT_VARIABLE: infrastructure_commit,
    }


def output_string(outputs: dict, name: str) -> str:
    """The string value of output `name` in `tofu output -json`'s object, or
    "" when it is absent or not a string (written by an older stack, or edited)."""
    entry = outputs.get(name) if isinstance(outputs, dict) else None
    value = entry.get("value") if isinstance(entry, dict) else None
    return value if isinstance(value, str) else ""


def deployed_tfvars(platform: Platform, env_name: str, outputs: dict) -> tuple[dict, list[str]]:
    """(the app stack's inputs of what runs now, notes for the plan summary).
    An image the deployed stack has no tag for belongs to a service the
    change adds: planned as new and unbuilt, not an error, so the pull
    request that adds it can pass its plan check."""
    deployed = deployed_tags(platform, outputs)
    unbuilt = [image for image in images(platform) if image not in deployed]
    tags = {image: deployed.get(image, UNBUILT_TAG) for image in images(platform)}
    rollout = output_string(outputs, ROLLOUT_OUTPUT)
    # What runs keeps its commit: a plan of it must not show the pull request's.
    commit = output_string(outputs, INFRASTRUCTURE_COMMIT_OUTPUT)
    notes = []
    if unbuilt:
        notes.append(
            f"note: image(s) {unbuilt} not deployed yet (a service this change adds): planned as new with the tag "
            f"{UNBUILT_TAG!r}, built by the deploy. Its runtime account must exist first: an admin applies "
            f'{bootstrap_stack_name(env_name)} from this change BEFORE it is merged (README, "Adding a service").'
        )
    retired = sorted(set(deployed) - set(images(platform)))
    if retired:
        notes.append(f"note: image(s) {retired} deployed but no longer configured: their services are planned for destruction.")
    return tfvars(platform, tags, rollout, unbuilt, commit), notes


def deployed_tags(platform: Platform, outputs: dict) -> dict[str, str]:
    """image -> tag from `tofu output -json` of the deployed app stack."""
    entry = outputs.get(IMAGE_TAGS_OUTPUT) if isinstance(outputs, dict) else None
    deployed = entry.get("value") if isinstance(entry, dict) else None
    if not isinstance(deployed, dict) or not all(isinstance(tag, str) for tag in deployed.values()):
        raise NotDeployed(f"the deployed app stack has no `{IMAGE_TAGS_OUTPUT}` output: deploy it once first")
    return deployed


def _json_argument(text: str, what: str):
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise PlanError(f"{what} is not JSON ({error.msg} at character {error.pos})") from None


def _json_file(path: str, what: str):
    try:
        return _json_argument(Path(path).read_text(), f"{what} {path}")
    except OSError as error:
        raise PlanError(f"cannot read {what} {path}: {error.strerror}") from None


def prepare(platform: Platform, ref: str, app_dir: str, tag_overrides: str = "{}") -> list[str]:
    """GITHUB_OUTPUT lines of the deploy's prepare job; the environment first,
    so a ref that deploys nothing fails before anything else is read."""
    env_name = environment_for_ref(platform, ref)
    _repository_ids_pinned(platform, env_name)
    overrides = _json_argument(tag_overrides, "TAG_OVERRIDES_JSON")
    if not isinstance(overrides, dict):
        raise PlanError("TAG_OVERRIDES_JSON must be a JSON object of image -> tag")
    tags = image_tags(platform, app_tag(Path(app_dir)), overrides, url_set_suffix(url_build_args(platform, env_name)))
    step_outputs = {
        "environment": env_name,
        "tags": json.dumps(tags),
        "matrix": json.dumps(build_matrix(platform, env_name, tags, build=not overrides)),
        "stack": stack_directory(app_stack_name(env_name)),
        **identities(platform, env_name),
    }
    return [f"{key}={value}" for key, value in step_outputs.items()]


def run(argv: list[str]) -> list[str]:
    """The lines to print for `argv`; raises PlanError or ConfigError."""
    platform = load_platform()
    if argv == ["environments"]:
        return [json.dumps(list(platform.environments))]
    if argv == ["planned-environments"]:
        return [json.dumps(planned_environments(platform))]
    if argv == ["unplanned-notices"]:
        return unplanned_notices(platform)
    if argv[:1] == ["prepare"] and len(argv) in (3, 4):
        return prepare(platform, *argv[1:])
    if len(argv) < 2 or argv[0] not in platform.environments:
        if not argv:
            raise PlanError("usage: see `python -m tools.ci_plan --help`")
        raise PlanError(f"usage: see `python -m tools.ci_plan --help`; environments: {', '.join(platform.environments)}")
    env_name, command, *rest = argv
    if command == "stack" and not rest:
        return [stack_directory(app_stack_name(env_name))]
    if command == "bootstrap-stack" and not rest:
        if platform.environments[env_name].bootstrap_backend != "gcs":
            raise NotDeployed(
                f"{bootstrap_stack_name(env_name)} is not checked: its state is on the admin's machine "
                f'(environments.{env_name}.bootstrap_backend: local); move it into the bucket (README, "Deploy from scratch", step 3)'
            )
        return [stack_directory(bootstrap_stack_name(env_name))]
    if command == "deployed-commit" and len(rest) == 1:
        outputs = _json_file(rest[0], "OUTPUTS_JSON")
        commit = output_string(outputs, INFRASTRUCTURE_COMMIT_OUTPUT)
        return [commit if COMMIT.fullmatch(commit) else ""]
    if command == "identities" and not rest:
        return [f"{key}={value}" for key, value in identities(platform, env_name).items()]
    if command == "tfvars" and len(rest) in (1, 2, 3):
        tags = _json_argument(rest[0], "TAGS_JSON")
        rollout, commit = (*rest[1:], "", "")[:2]
        return [json.dumps(tfvars(platform, tags, rollout, infrastructure_commit=commit), indent=2)]
    if command == "deployed-tfvars" and len(rest) == 1:
        outputs = _json_file(rest[0], "OUTPUTS_JSON")
        if not isinstance(outputs, dict):
            raise PlanError(f"OUTPUTS_JSON {rest[0]} is not the JSON object of `tofu output -json`")
        values, notes = deployed_tfvars(platform, env_name, outputs)
        for note in notes:
            print(note, file=sys.stderr)
        return [json.dumps(values, indent=2)]
    raise PlanError(f"unknown command {' '.join(argv[1:])!r}; see `python -m tools.ci_plan --help`")


def main(argv: list[str]) -> int:
    if argv in (["--help"], ["-h"]):
        print(__doc__)
        return 0
    return run_tool("ci_plan", lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
