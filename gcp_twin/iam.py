"""IAM as Google evaluates it, for the twin.

A caller's permissions on a resource are the union of the roles bound to it
(directly, or through `allUsers` / `allAuthenticatedUsers`) in the policy of
the resource and of every ancestor: a bucket inherits its project's policy
(https://cloud.google.com/iam/docs/resource-hierarchy-access-control).
Conditions on bindings are not evaluated: a conditional binding grants
nothing here (the stacks write none).

Who calls: the twin's bearer token is the IAM member it stands for
(`serviceAccount:planner@p.iam.gserviceaccount.com`, `user:admin@example.com`);
`token_for` makes one. The twin knows no identity of its own: every
permission comes from the policies and custom roles put into it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

# The storage.* permissions of the predefined roles the stacks grant, from
# Google's role reference (https://cloud.google.com/iam/docs/roles-permissions/storage,
# read 2026-12); other services' permissions of these roles are left out.
STORAGE_ROLES: dict[str, frozenset[str]] = {
    "roles/storage.objectViewer": frozenset(
        {
            "storage.folders.get",
            "storage.folders.list",
            "storage.managedFolders.get",
            "storage.managedFolders.list",
            "storage.objects.get",
            "storage.objects.list",
        }
    ),
    "roles/storage.objectCreator": frozenset(
        {
            "storage.folders.create",
            "storage.managedFolders.create",
            "storage.multipartUploads.abort",
            "storage.multipartUploads.create",
            "storage.multipartUploads.listParts",
            "storage.objects.create",
        }
    ),
    "roles/storage.objectAdmin": frozenset(
        {
            "storage.folders.create",
            "storage.folders.delete",
            "storage.folders.get",
            "storage.folders.list",
            "storage.folders.rename",
            "storage.managedFolders.create",
            "storage.managedFolders.delete",
            "storage.managedFolders.get",
            "storage.managedFolders.list",
            "storage.multipartUploads.abort",
            "storage.multipartUploads.create",
            "storage.multipartUploads.list",
            "storage.multipartUploads.listParts",
            "storage.objects.create",
            "storage.objects.delete",
            "storage.objects.get",
            "storage.objects.getIamPolicy",
            "storage.objects.list",
            "storage.objects.overrideUnlockedRetention",
            "storage.objects.restore",
            "storage.objects.setIamPolicy",
            "storage.objects.setRetention",
            "storage.objects.update",
        }
    ),
    "roles/storage.admin": frozenset(
        {
            "storage.buckets.create",
            "storage.buckets.delete",
            "storage.buckets.get",
            "storage.buckets.getIamPolicy",
            "storage.buckets.list",
            "storage.buckets.setIamPolicy",
            "storage.buckets.update",
            "storage.objects.create",
            "storage.objects.delete",
            "storage.objects.get",
            "storage.objects.getIamPolicy",
            "storage.objects.list",
            "storage.objects.setIamPolicy",
            "storage.objects.update",
        }
    ),
}

# Basic roles hold (almost) every permission of the project's services
# (https://cloud.google.com/iam/docs/roles-overview#basic): the twin treats
# roles/owner as holding all of them.
ALL_PERMISSIONS = "*"
BASIC_ROLES: dict[str, frozenset[str]] = {"roles/owner": frozenset({ALL_PERMISSIONS})}

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def token_for(member: str) -> str:
    """The bearer token with which the twin treats a caller as `member`."""
    return member


def member_of(authorization: str | None) -> str | None:
    """The member an Authorization header names; None for an anonymous call."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    token = authorization.removeprefix("Bearer ").strip()
    return token or None


@dataclass
class Iam:
    """Policies by resource name (`projects/P`, `projects/_/buckets/B`) and
    custom roles by name (`projects/P/roles/R`)."""

    policies: dict[str, list[dict]] = field(default_factory=dict)
    custom_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_binding(self, resource: str, role: str, member: str) -> None:
        with self.lock:
            bindings = self.policies.setdefault(resource, [])
            for binding in bindings:
                if binding["role"] == role and "condition" not in binding:
                    if member not in binding["members"]:
                        binding["members"].append(member)
                    return
            bindings.append({"role": role, "members": [member]})

    def set_policy(self, resource: str, bindings: list[dict]) -> None:
        with self.lock:
            self.policies[resource] = [dict(binding, members=list(binding.get("members", []))) for binding in bindings]

    def policy(self, resource: str) -> list[dict]:
        with self.lock:
            return [dict(binding, members=list(binding["members"])) for binding in self.policies.get(resource, [])]

    def role_permissions(self, role: str) -> frozenset[str]:
        """A role's permissions; an unknown role grants nothing (as a
        deleted custom role does)."""
        return STORAGE_ROLES.get(role) or BASIC_ROLES.get(role) or self.custom_roles.get(role, frozenset())

    def permissions(self, member: str | None, resources: Iterable[str]) -> frozenset[str]:
        """What `member` (None: anonymous) holds on the first resource of
        `resources`, which lists it and then its ancestors."""
        members = {"allUsers"} if member is None else {member, *PUBLIC_MEMBERS}
        held: set[str] = set()
        with self.lock:
            for resource in resources:
                for binding in self.policies.get(resource, []):
                    if "condition" not in binding and members & set(binding["members"]):
                        held |= self.role_permissions(binding["role"])
        return frozenset(held)

    def allows(self, member: str | None, permission: str, resources: Iterable[str]) -> bool:
        held = self.permissions(member, resources)
        return permission in held or ALL_PERMISSIONS in held
