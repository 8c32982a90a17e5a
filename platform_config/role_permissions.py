"""Predefined roles -> the permissions of each that deploying relies on.

Data only. The preflight (tools/preflight.py) expands `deployer_project_roles`
with this table and asks Google, with testIamPermissions, whether the caller
holds the result together with `deployer_permissions`: the configuration stays
the one place that says what the deployer may do.

Each entry is the part of the role the deploy uses, not the whole role (whole
roles hold permissions that testIamPermissions on a project rejects and that
Google adds to over time). Every permission listed is in the role according to
Google's role reference, checked 2026-11:
https://cloud.google.com/iam/docs/roles-permissions/artifactregistry
https://cloud.google.com/iam/docs/roles-permissions/serviceusage
A role in configuration without an entry here is reported by the preflight.
"""

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # The plan-time data sources: the repository list and the image of each tag.
    "roles/artifactregistry.reader": (
        "artifactregistry.repositories.get",
        "artifactregistry.repositories.list",
        "artifactregistry.dockerimages.get",
        "artifactregistry.dockerimages.list",
    ),
    # Calling the project's APIs on its quota.
    "roles/serviceusage.serviceUsageConsumer": (
        "serviceusage.services.get",
        "serviceusage.services.list",
        "serviceusage.services.use",
    ),
}

# The CI identities besides the deployer (constructs_lib/ci_identities.py
# grants exactly these; the preflight checks them).
# What `tofu plan` of the stacks reads (get/list and IAM policies), and
# nothing that changes a resource or reads a secret payload.
PLANNER_PERMISSIONS = [
    "run.services.get",
    "run.services.list",
    "run.services.getIamPolicy",
    "run.revisions.get",
    "run.revisions.list",
    "run.operations.get",
    "serviceusage.services.get",
    "serviceusage.services.list",
    "iam.serviceAccounts.get",
    "iam.serviceAccounts.list",
    "iam.serviceAccounts.getIamPolicy",
    "secretmanager.secrets.get",
    "secretmanager.secrets.list",
    "secretmanager.secrets.getIamPolicy",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
    "storage.buckets.get",
    "storage.buckets.list",
    "storage.buckets.getIamPolicy",
    "artifactregistry.repositories.get",
    "artifactregistry.repositories.list",
    "artifactregistry.dockerimages.get",
    "artifactregistry.dockerimages.list",
    "resourcemanager.projects.get",
    # The bootstrap's own resources, read by the drift check's plan of bootstrap-<env>.
    "resourcemanager.projects.getIamPolicy",
    "iam.roles.get",
    "iam.workloadIdentityPools.get",
    "iam.workloadIdentityPoolProviders.get",
    "artifactregistry.repositories.getIamPolicy",
]
# The project number in the gateway's service URLs; the push right is on the registry.
BUILDER_PERMISSIONS = ["resourcemanager.projects.get"]
