"""What runs in an environment now, read-only, and the commands that deploy
it again, roll it back or promote it.

    python -m tools.deployed ENV [--json]
    make deployed ENV=<env> [JSON=1]
    python -m tools.deployed ENV --promote-to OTHER
    make promote FROM=<env> TO=<other env>

Reads the app stack's state object in the environment's state bucket: its
outputs (what `tofu output -json` prints: the image tag per image, the
rollout id, the infrastructure commit of the deploy) and its older
generations (the bucket keeps versions), the newest whose tags differ being
the previous deploy. Asks Cloud Run for each configured service (GET
https://run.googleapis.com/v2/projects/P/locations/L/services/S): its latest
ready revision, where traffic goes, its image and whether it is ready.
Prints the application commit (from the tags, v<VERSION>-<commit>), the
command that deploys exactly what runs again (an infrastructure-only change,
a secret rotation: nothing is built) and the one that rolls back to the
previous deploy, every image named.

--promote-to OTHER prints the command that deploys ENV's application commit to
OTHER: OTHER builds that commit into its own registry (the environments'
projects share no registry), so every image gets ENV's tag, but an image
that bakes in the service URLs, whose tag carries OTHER's URL set.

Exit 0; 1 when the state cannot be read or was never written by a deploy;
2 on bad usage or configuration. Credentials and endpoints as tools/preflight.py
(Application Default Credentials; STORAGE_EMULATOR_HOST, PREFLIGHT_API_ENDPOINT).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field

import requests
from google.api_core import exceptions

from platform_config import Platform, app_state_prefix
from platform_config.naming import INFRASTRUCTURE_COMMIT_OUTPUT, ROLLOUT_OUTPUT, STATE_OBJECT
from tools.ci_plan import NotDeployed, deployed_tags, image_tags, images, output_string, url_build_args, url_set_suffix
from tools.cli import OneLineParser, configured_platform
from tools.preflight import Google, NoConnection, connect, short_error

# v<VERSION>-<application commit>, and -u<URL set> for an image that bakes the URLs in (tools/ci_plan.py).
APP_TAG = re.compile(r"v(?P<version>.+)-(?P<commit>[0-9a-f]{7,40})(?:-u[0-9a-f]{8})?")
# Older state generations read to find the previous deploy (a rollout or an
# infrastructure-only deploy writes a generation with the same tags).
MAX_GENERATIONS = 30


class Unreadable(Exception):
    """One line: what could not be read, and the fix."""


@dataclass
class Deploy:
    """One generation of the app stack's state that a deploy wrote."""

    generation: int
    updated: str
    image_tags: dict[str, str]
    rollout: str = ""
    infrastructure_commit: str = ""


@dataclass
class ServiceNow:
    name: str
    revision: str | None = None  # the latest ready revision
    traffic: list[str] = field(default_factory=list)  # "100% latest (name)", "10% name"
    image: str | None = None
    ready: bool | None = None
    problem: str | None = None


@dataclass
class Deployed:
    environment: str
    project: str
    region: str
    current: Deploy
    previous: Deploy | None
    application_commits: dict[str, str | None]
    services: list[ServiceNow]
    rollback_image_tags: dict[str, str] | None
    rollback_command: str | None
    redeploy_command: str | None


def application_commit(tag: str) -> str | None:
    match = APP_TAG.fullmatch(tag)
    return match["commit"] if match else None


def state_object(platform: Platform, env_name: str) -> tuple[str, str]:
    return platform.environments[env_name].state_bucket, f"{app_state_prefix(env_name)}/{STATE_OBJECT}"


def deploys(platform: Platform, env_name: str, google: Google) -> list[Deploy]:
    """The state generations a deploy wrote, newest first (at most MAX_GENERATIONS read)."""
    bucket, name = state_object(platform, env_name)
    where = f"gs://{bucket}/{name}"
    try:
        blobs = [b for b in google.storage.list_blobs(bucket, prefix=name, versions=True, **google.gcs) if b.name == name]
        blobs.sort(key=lambda b: b.generation, reverse=True)
        found = []
        for blob in blobs[:MAX_GENERATIONS]:
            # By name and generation, not the listing's media link (which need not name the generation).
            state = json.loads(google.storage.bucket(bucket).blob(name, generation=blob.generation).download_as_bytes(**google.gcs))
            outputs = state.get("outputs", {}) if isinstance(state, dict) else {}
            try:
                tags = deployed_tags(platform, outputs)
            except NotDeployed:
                continue  # written before the stack had the output
            updated = blob.updated.isoformat() if blob.updated else ""
            found.append(
                Deploy(
                    blob.generation,
                    updated,
                    tags,
                    output_string(outputs, ROLLOUT_OUTPUT),
                    output_string(outputs, INFRASTRUCTURE_COMMIT_OUTPUT),
                )
            )
    except exceptions.NotFound:
        raise Unreadable(f"state bucket {bucket} not found: check environments.{env_name}.state_bucket, or apply bootstrap-{env_name}") from None
    except exceptions.Forbidden:
        raise Unreadable(f"permission denied reading {where} (storage.objects.list and .get): run as a project admin or the planner") from None
    except ValueError:
        raise Unreadable(f"{where} is not a state file (not JSON)") from None
    except (exceptions.GoogleAPIError, requests.RequestException) as error:
        raise Unreadable(f"cannot read {where}: {short_error(error)}") from None
    if not found:
        raise Unreadable(f"no deploy found in {where}: the app stack of {env_name} was never deployed")
    return found


def cloud_run(platform: Platform, env_name: str, google: Google) -> list[ServiceNow]:
    environment = platform.environments[env_name]
    found = []
    for service in platform.services:
        now = ServiceNow(service.name)
        path = f"v2/projects/{environment.project_id}/locations/{environment.region}/services/{service.name}"
        try:
            body = google.rest("Cloud Run", "GET", path)
        except exceptions.NotFound:
            now.problem = "not found in Cloud Run"
        except exceptions.Forbidden:
            now.problem = "permission denied (run.services.get)"
        except (exceptions.GoogleAPIError, requests.RequestException, ValueError) as error:
            now.problem = f"cannot be read: {short_error(error)}"
        else:
            latest = (body.get("latestReadyRevision") or "").rsplit("/", 1)[-1] or None
            now.revision = latest
            containers = body.get("template", {}).get("containers") or [{}]
            now.image = containers[0].get("image")
            now.ready = body.get("terminalCondition", {}).get("state") == "CONDITION_SUCCEEDED"
            for target in body.get("trafficStatuses", []):
                if target.get("type") == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST":
                    where = f"latest ({latest})" if latest else "latest"
                else:
                    where = target.get("revision", "?")
                now.traffic.append(f"{target.get('percent', 0)}% {where}")
        found.append(now)
    return found


def deployed(platform: Platform, env_name: str, google: Google) -> Deployed:
    history = deploys(platform, env_name, google)
    current = history[0]
    previous = next((d for d in history[1:] if d.image_tags != current.image_tags), None)
    environment = platform.environments[env_name]
    rollback_tags = rollback_command = redeploy_command = None
    if previous:
        # An image added since has no previous tag: it keeps what runs.
        rollback_tags = {image: previous.image_tags.get(image, current.image_tags.get(image, "")) for image in images(platform)}
        rollback_command = dispatch(platform, env_name, f"-f image_tags='{json.dumps(rollback_tags, separators=(',', ':'))}'")
    if redeployable(platform, env_name, current):
        running = {image: current.image_tags[image] for image in images(platform)}
        # The rollout that runs, or the re-deploy would start new revisions of every service.
        rollout = f" -f rollout={shlex.quote(current.rollout)}" if current.rollout else ""
        redeploy_command = dispatch(platform, env_name, f"-f image_tags='{json.dumps(running, separators=(',', ':'))}'{rollout}")
    return Deployed(
        env_name,
        environment.project_id,
        environment.region,
        current,
        previous,
        {image: application_commit(tag) for image, tag in current.image_tags.items()},
        cloud_run(platform, env_name, google),
        rollback_tags,
        rollback_command,
        redeploy_command,
    )


def redeployable(platform: Platform, env_name: str, current: Deploy) -> bool:
    """What runs can be deployed again by its tags: every configured image
    runs, and an image that bakes in the service URLs was built with today's
    URL set (after a service was added or removed, only a build from an
    app_ref gives the gateway the new URLs)."""
    if not all(image in current.image_tags for image in images(platform)):
        return False
    if not platform.environments[env_name].project_number:
        return True
    suffix = url_set_suffix(url_build_args(platform, env_name))
    return all(current.image_tags[s.image].endswith(suffix) for s in platform.services if s.build.service_url_build_args)


def dispatch(platform: Platform, env_name: str, arguments: str) -> str:
    """The `gh` command that runs the application's deploy caller on ENV's deploy branch."""
    branch = platform.environments[env_name].deploy_branch
    return f"gh workflow run {caller_file(platform)} --repo {platform.github.app_repository} --ref {branch} {arguments}"


def caller_file(platform: Platform) -> str:
    """The caller's workflow file name, as `gh workflow run` takes it."""
    return platform.github.app_deploy_workflow.rsplit("/", 1)[-1]


def promotion(platform: Platform, now: Deployed, target: str) -> str:
    """The command and tags that deploy `now`'s application commit to `target`."""
    if target == now.environment:
        raise Unreadable(f"--promote-to names {target}, the environment read; name another: {', '.join(platform.environments)}")
    tags = {image: APP_TAG.fullmatch(tag) for image, tag in now.current.image_tags.items()}
    parsed = {(m["version"], m["commit"]) for m in tags.values() if m}
    if len(parsed) != 1 or None in tags.values():
        raise Unreadable(
            f"{now.environment} does not run one application commit ({', '.join(f'{i}: {t}' for i, t in now.current.image_tags.items())}), "
            "e.g. after a rollback by image_tags: promote by dispatching app_ref with the commit you want"
        )
    [(version, commit)] = parsed
    environment = platform.environments[target]
    lines = [
        f"Promote {now.environment}'s application commit {commit} (v{version}) to {target}: {target} builds it into its own registry",
        f"({environment.project_id}); then one plan and one approval as for any deploy. `gh` from any checkout:",
        # The full commit first: an empty app_ref would deploy the branch head.
        f"  sha=$(gh api repos/{platform.github.app_repository}/commits/{commit} --jq .sha) && " + dispatch(platform, target, '-f app_ref="$sha"'),
    ]
    if environment.project_number:
        expected = image_tags(platform, f"v{version}-{commit}", {}, url_set_suffix(url_build_args(platform, target)))
        lines.append(f"The plan in {target} must show these tags ({now.environment}'s, but where an image bakes in {target}'s URLs):")
        lines += [f"    {image}: {tag}" for image, tag in expected.items()]
    return "\n".join(lines) + "\n"


def render(now: Deployed) -> str:
    current = now.current
    commits = set(now.application_commits.values())
    lines = [
        f"{now.environment} ({now.project}, {now.region}): deployed {current.updated} (state generation {current.generation})",
        f"  infrastructure commit: {current.infrastructure_commit or '(not recorded)'}",
        f"  application commit:    {commits.pop() if len(commits) == 1 else 'differs per image, see the tags'}",
        f"  rollout:               {current.rollout or '(none)'}",
        "  image tags (previous deploy's after ←):",
    ]
    for image, tag in current.image_tags.items():
        before = now.previous.image_tags.get(image) if now.previous else None
        lines.append(f"    {image}: {tag}" + (f" ← {before}" if before and before != tag else ""))
    lines.append("  Cloud Run:")
    for service in now.services:
        if service.problem:
            lines.append(f"    {service.name}: {service.problem}")
            continue
        state = "ready" if service.ready else "NOT ready"
        lines.append(f"    {service.name}: revision {service.revision}, {state}, traffic {', '.join(service.traffic) or '(none)'}; image {service.image}")
    if now.redeploy_command:
        lines += [
            "Deploy exactly what runs again (after an infrastructure-only change or a secret rotation; nothing is built):",
            f"  {now.redeploy_command}",
        ]
    else:
        lines.append(
            "No re-deploy by tags: a service was added or removed since this deploy (an image does not run yet, or the "
            "gateway bakes in other URLs); deploy an app_ref, which builds them."
        )
    if now.rollback_command:
        lines += [
            f"Roll back to the previous deploy ({now.previous.updated if now.previous else ''}), every image named (`gh` from any checkout):",
            f"  {now.rollback_command}",
        ]
    else:
        lines.append("No earlier deploy with other tags in the state's history: nothing to roll back to.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    platform = configured_platform()
    if platform is None:
        return 2
    parser = OneLineParser(prog="python -m tools.deployed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("environment", choices=list(platform.environments))
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object instead of text")
    output.add_argument("--promote-to", choices=list(platform.environments), help="print the command that deploys this environment's application commit there")
    args = parser.parse_args(argv)
    try:
        now = deployed(platform, args.environment, connect(platform.environments[args.environment].project_id))
        text = promotion(platform, now, args.promote_to) if args.promote_to else render(now)
    except (NoConnection, Unreadable) as error:
        print(f"error: deployed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(now), indent=2) if args.json else text, end="\n" if args.json else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
