"""Preflight of an environment's state backend, before `tofu init`.

    python -m tools.preflight ENV        (make preflight ENV=production)

Checks that the app stack's state bucket exists, keeps versions, and that the
caller can write, read and delete objects under the stack's state prefix. Each
failure is one line saying what is wrong and what to do; a missing bucket and a
missing permission are told apart. Exit 0 only when all is well.

Uses Application Default Credentials; honours STORAGE_EMULATOR_HOST.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

from google.api_core import exceptions
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import storage

from platform_config import ConfigError, Platform, app_state_prefix, load_platform

DEPLOY_FROM_SCRATCH = "(README, Deploy from scratch)"


@dataclass(frozen=True)
class Target:
    env_name: str
    project: str
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"gs://{self.bucket}"


def target_of(platform: Platform, env_name: str) -> Target:
    environment = platform.environments[env_name]
    return Target(env_name, environment.project_id, environment.state_bucket, app_state_prefix(env_name))


def check(client: storage.Client, target: Target) -> list[str]:
    """Problems with the backend, each with its fix; empty when all is well."""
    bootstrap = f"apply bootstrap-{target.env_name} first {DEPLOY_FROM_SCRATCH}"
    try:
        bucket = client.get_bucket(target.bucket)
    except exceptions.NotFound:
        return [f"state bucket {target.url} does not exist in {target.project}: {bootstrap}"]
    except exceptions.Forbidden:
        return [_forbidden_bucket(client, target, bootstrap)]

    problems = []
    if not bucket.versioning_enabled:
        problems.append(
            f"state bucket {target.url} does not keep versions, so a bad state write cannot be undone: "
            f"apply bootstrap-{target.env_name} (it turns versioning on) or run "
            f"`gcloud storage buckets update {target.url} --versioning`"
        )
    problems += _object_access(bucket, target)
    return problems


def _forbidden_bucket(client: storage.Client, target: Target, bootstrap: str) -> str:
    """A 403 on the bucket: tell a missing bucket from a missing permission by
    asking for its objects, which the deployer may list on an existing bucket."""
    try:
        list(client.list_blobs(target.bucket, prefix=target.prefix, max_results=1))
    except exceptions.NotFound:
        return f"state bucket {target.url} does not exist in {target.project}: {bootstrap}"
    except exceptions.Forbidden:
        return (
            f"permission denied on state bucket {target.url} (it may exist): authenticate as the deployer of "
            f"{target.env_name} (bootstrap output deployer_email) or {bootstrap}"
        )
    return (
        f"cannot read the settings of state bucket {target.url} (storage.buckets.get denied), so versioning "
        f"cannot be verified: re-apply bootstrap-{target.env_name}, which grants it to the deployer"
    )


def _object_access(bucket: storage.Bucket, target: Target) -> list[str]:
    """What `tofu init` and a locked apply do: write, read and delete under the prefix."""
    blob = bucket.blob(f"{target.prefix}/preflight-{uuid.uuid4().hex}")
    where = f"{target.url}/{target.prefix}/"
    fix = f"grant the deployer roles/storage.objectAdmin on {target.url} (bootstrap-{target.env_name} does)"
    steps = (
        ("write", lambda: blob.upload_from_string(b"preflight", if_generation_match=0)),
        ("read", blob.download_as_bytes),
        ("delete", blob.delete),
    )
    for action, step in steps:
        try:
            step()
        except exceptions.Forbidden:
            return [f"cannot {action} objects under {where}: {fix}"]
    return []


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        platform = load_platform()
    except ConfigError as error:
        print("\n".join(f"error: {p}" for p in error.problems), file=sys.stderr)
        return 2
    if len(args) != 1 or args[0] not in platform.environments:
        print(f"usage: make preflight ENV=<{'|'.join(platform.environments)}>", file=sys.stderr)
        return 2
    target = target_of(platform, args[0])
    try:
        problems = check(storage.Client(project=target.project), target)
    except DefaultCredentialsError:
        problems = [
            "no Google credentials: run `gcloud auth application-default login` "
            "(in CI, google-github-actions/auth runs first)"
        ]
    except exceptions.GoogleAPIError as error:
        problems = [f"Cloud Storage answered unexpectedly for {target.url}: {error}"]
    for problem in problems:
        print(f"preflight: {problem}", file=sys.stderr)
    if not problems:
        print(f"preflight: {target.url}/{target.prefix}/ is ready for tofu init ({target.env_name})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
