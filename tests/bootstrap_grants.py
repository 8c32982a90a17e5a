"""What a synthesized bootstrap stack declares about Cloud Storage and IAM,
put into the twin as its apply would leave it: its buckets, the grants on
them, its custom roles and its project grants.

This stands in for the Google provider's apply, which this machine cannot
run (hashicorp/google is not served by the Go module proxy here: README,
"The engine"); it reads only the stack's JSON, so every identity and right
comes from our synthesis, none from the test.
"""

from __future__ import annotations

import re

from gcp_twin import StorageTwin

ADMIN = "user:admin@example.com"  # the human owner of the seed's projects
REFERENCE = re.compile(r"\$\{(?P<type>google_[a-z0-9_]+)\.(?P<id>[^.}]+)\.(?P<attribute>[a-z_]+)\}")


def resolve(stack: dict, value: str) -> str:
    """A string with `${type.id.attribute}` references to the stack's own
    accounts, buckets and custom roles, with their values."""

    def value_of(match: re.Match[str]) -> str:
        resource = stack["resource"][match["type"]][match["id"]]
        kind, attribute = match["type"], match["attribute"]
        if kind == "google_service_account" and attribute in ("email", "member"):
            email = f"{resource['account_id']}@{resource['project']}.iam.gserviceaccount.com"
            return email if attribute == "email" else f"serviceAccount:{email}"
        if kind == "google_storage_bucket" and attribute in ("name", "id"):
            return resource["name"]
        if kind == "google_project_iam_custom_role" and attribute in ("id", "name"):
            return f"projects/{resource['project']}/roles/{resource['role_id']}"
        raise KeyError(f"no value for {match[0]} in this stand-in")

    return REFERENCE.sub(value_of, value)


def project_of(stack: dict) -> str:
    projects = {resource["project"] for resource in stack["resource"].get("google_storage_bucket", {}).values()}
    (project,) = projects
    return project


def apply_storage_and_iam(twin: StorageTwin, stack: dict) -> None:
    """Buckets, bucket grants, custom roles and project grants of `stack`,
    with the admin as the project's owner."""
    resources = stack["resource"]
    twin.iam.add_binding(f"projects/{project_of(stack)}", "roles/owner", ADMIN)
    for bucket in resources.get("google_storage_bucket", {}).values():
        versioning = bucket.get("versioning", {}).get("enabled", False)
        twin.create_bucket(bucket["project"], bucket["name"], versioning=versioning, location=bucket["location"])
    for grant in resources.get("google_storage_bucket_iam_member", {}).values():
        twin.iam.add_binding(f"projects/_/buckets/{resolve(stack, grant['bucket'])}", grant["role"], resolve(stack, grant["member"]))
    for role in resources.get("google_project_iam_custom_role", {}).values():
        twin.iam.custom_roles[f"projects/{role['project']}/roles/{role['role_id']}"] = frozenset(role["permissions"])
    for grant in resources.get("google_project_iam_member", {}).values():
        twin.iam.add_binding(f"projects/{grant['project']}", resolve(stack, grant["role"]), resolve(stack, grant["member"]))


def account_member(stack: dict, identity: str) -> str:
    """The IAM member of a CI account of the stack (deployer, planner, builder), by its construct path."""
    for key, account in stack["resource"]["google_service_account"].items():
        if account["//"]["metadata"]["path"].endswith(f"/{identity}/account"):
            return resolve(stack, f"${{google_service_account.{key}.member}}")
    raise KeyError(identity)
