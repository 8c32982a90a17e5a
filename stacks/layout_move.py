"""Moving what the app stack used to hold into the admin-applied bootstrap
stack, without destroying anything (README, "Moving resources between stacks").

Until the runtime accounts, their grants, the URL secrets and the traditions
bucket (its only data bucket) moved to the bootstrap stack (layout 1), the
app stack created them.
An environment applied with layout 1 sets `move_to_bootstrap: true`: the
bootstrap imports what would otherwise fail with 409, and the app stack
forgets its old addresses with `removed` blocks (`destroy = false`).
"""

from __future__ import annotations

import hashlib
import re

from cdktf import TerraformStack

from platform_config import Platform
from platform_config.naming import bootstrap_stack_name

# Layout 1 made one data bucket, hard-wired under this key: the traditions
# bucket. A data bucket configured since was never in an app stack.
LAYOUT_1_DATA_BUCKETS = frozenset({"traditions"})


def layout_1_data_buckets(platform: Platform) -> list[str]:
    """The configured data buckets that layout 1's app stack held."""
    return [key for key in platform.data_buckets if key in LAYOUT_1_DATA_BUCKETS]


def layout_1_moved_paths(platform: Platform) -> list[tuple[str, list[str]]]:
    """(resource type, construct path) of every app-stack resource of layout 1
    that the bootstrap stack now holds."""
    moved: list[tuple[str, list[str]]] = []
    for service in platform.services:
        moved.append(("google_service_account", [service.name, "identity"]))
        moved.append(("google_service_account_iam_member", [service.name, "deployer-acts-as"]))
        moved += [("google_secret_manager_secret_iam_member", [service.name, f"reads-{s}"]) for s in sorted(set(service.secrets.values()))]
    for key in layout_1_data_buckets(platform):
        moved.append(("google_storage_bucket", [key, "bucket"]))
        moved += [("google_storage_bucket_iam_member", [key, f"{s.name}-{key}-access"]) for s in platform.services if key in s.bucket_access]
    for secret in [f"url-secret-{s.url_name}" for s in platform.services if s.url_name] + ["url-secret-all"]:
        moved.append(("google_secret_manager_secret", [secret, "secret"]))
        moved.append(("google_secret_manager_secret_iam_member", [secret, "reader-0"]))
    return moved


def cdktf_logical_id(path: list[str]) -> str:
    """The resource name cdktf 0.21 gives a construct path below its stack
    (cdktf's makeUniqueId: readable path, then an md5 of the full path)."""
    components = [c for c in path if c != "Default"]
    if len(components) == 1:
        return _allowed(components[0])
    digest = hashlib.md5("/".join(components).encode()).hexdigest()[:8].upper()
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    readable = "_".join(_allowed(c) for c in human if c != "Resource")[:240]
    return f"{readable}_{digest}"


def _allowed(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", text)


def moved_addresses(platform: Platform) -> list[str]:
    return sorted(f"{kind}.{cdktf_logical_id(path)}" for kind, path in layout_1_moved_paths(platform))


def forget_moved_resources(stack: TerraformStack, platform: Platform, env_name: str) -> None:
    """`removed` blocks for the layout-1 addresses: OpenTofu (>= 1.10 for the
    lifecycle argument) drops them from this state and leaves them in Google Cloud."""
    stack.add_override(
        "removed",
        [{"from": address, "lifecycle": {"destroy": False}, "//": f"moved to {bootstrap_stack_name(env_name)}"} for address in moved_addresses(platform)],
    )
