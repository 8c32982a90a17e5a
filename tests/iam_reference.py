"""Pinned IAM facts the deployer tests reason with (no network: tables, with
their sources). Update them only from the sources named here.
"""

from __future__ import annotations

# Permissions of the predefined roles this project grants, from Google's IAM
# roles reference (https://cloud.google.com/iam/docs/roles-permissions,
# pages artifactregistry, serviceusage, iam, secretmanager), pinned 2026-11.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "roles/artifactregistry.reader": frozenset(
        {
            "artifactregistry.attachments.get",
            "artifactregistry.attachments.list",
            "artifactregistry.dockerimages.get",
            "artifactregistry.dockerimages.list",
            "artifactregistry.files.download",
            "artifactregistry.files.get",
            "artifactregistry.files.list",
            "artifactregistry.locations.get",
            "artifactregistry.locations.list",
            "artifactregistry.mavenartifacts.get",
            "artifactregistry.mavenartifacts.list",
            "artifactregistry.npmpackages.get",
            "artifactregistry.npmpackages.list",
            "artifactregistry.packages.get",
            "artifactregistry.packages.list",
            "artifactregistry.projectsettings.get",
            "artifactregistry.pythonpackages.get",
            "artifactregistry.pythonpackages.list",
            "artifactregistry.repositories.downloadArtifacts",
            "artifactregistry.repositories.get",
            "artifactregistry.repositories.list",
            "artifactregistry.repositories.listEffectiveTags",
            "artifactregistry.repositories.listTagBindings",
            "artifactregistry.repositories.readViaVirtualRepository",
            "artifactregistry.rules.get",
            "artifactregistry.rules.list",
            "artifactregistry.tags.get",
            "artifactregistry.tags.list",
            "artifactregistry.versions.get",
            "artifactregistry.versions.list",
        }
    ),
    "roles/serviceusage.serviceUsageConsumer": frozenset(
        {
            "monitoring.timeSeries.list",
            "serviceusage.quotas.get",
            "serviceusage.services.get",
            "serviceusage.services.list",
            "serviceusage.services.use",
        }
    ),
    # Granted on one runtime service account at a time, never on the project.
    "roles/iam.serviceAccountUser": frozenset(
        {
            "iam.serviceAccounts.actAs",
            "iam.serviceAccounts.get",
            "iam.serviceAccounts.list",
            "resourcemanager.projects.get",
            "resourcemanager.projects.list",
        }
    ),
    # Granted on one URL secret at a time, never on the project.
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
    "roles/secretmanager.secretVersionManager": frozenset(
        {
            "resourcemanager.projects.get",
            "resourcemanager.projects.list",
            "secretmanager.secrets.get",
            "secretmanager.secrets.list",
            "secretmanager.versions.add",
            "secretmanager.versions.destroy",
            "secretmanager.versions.disable",
            "secretmanager.versions.enable",
            "secretmanager.versions.get",
            "secretmanager.versions.list",
        }
    ),
}

# Permissions that let a holder gain another identity's rights or reach
# secrets it was not given. Source: Rhino Security Labs, "Privilege
# Escalation in Google Cloud Platform" (Spencer Gietzen, 2019; part 1 and 2)
# and its GCP-IAM-Privilege-Escalation repository, plus this project's own
# rules (issue 11): no project-wide actAs, secret payloads, service-account
# lifecycle, or bucket / secret IAM.
ESCALATION_PERMISSIONS: frozenset[str] = frozenset(
    {
        # Rhino Security Labs
        "iam.roles.update",
        "iam.serviceAccounts.getAccessToken",
        "iam.serviceAccountKeys.create",
        "iam.serviceAccounts.implicitDelegation",
        "iam.serviceAccounts.signBlob",
        "iam.serviceAccounts.signJwt",
        "iam.serviceAccounts.setIamPolicy",
        "resourcemanager.projects.setIamPolicy",
        "resourcemanager.folders.setIamPolicy",
        "resourcemanager.organizations.setIamPolicy",
        "cloudbuild.builds.create",
        "cloudfunctions.functions.create",
        "cloudfunctions.functions.update",
        "cloudfunctions.functions.sourceCodeSet",
        "cloudfunctions.functions.setIamPolicy",
        "compute.instances.create",
        "compute.instances.setMetadata",
        "compute.projects.setCommonInstanceMetadata",
        "deploymentmanager.deployments.create",
        "orgpolicy.policy.set",
        "serviceusage.apiKeys.create",
        "serviceusage.apiKeys.list",
        "apikeys.keys.create",
        "storage.hmacKeys.create",
        "cloudscheduler.jobs.create",
        "composer.environments.create",
        "dataflow.jobs.create",
        "dataproc.clusters.create",
        # this project's rules (issue 11)
        "iam.serviceAccounts.actAs",
        "iam.serviceAccounts.create",
        "iam.serviceAccounts.delete",
        "secretmanager.secrets.setIamPolicy",
        "secretmanager.versions.access",
        "storage.buckets.setIamPolicy",
        "storage.buckets.delete",
    }
)

# The only IAM-policy permission the deployer holds project-wide: invoker
# bindings of Cloud Run services (a service's invoker policy grants no identity).
ALLOWED_SET_IAM_POLICY = frozenset({"run.services.setIamPolicy"})

# What OpenTofu needs to create, read, update and delete each resource type of
# the CI-applied app stack (and to read each data source), from Google's IAM
# permissions reference (https://cloud.google.com/iam/docs/permissions-reference)
# and the REST methods the google provider 6.50 calls. Scope: "project" is
# held project-wide; "runtime_account" on the service's runtime account;
# "secret" on the secret the version belongs to.
APP_STACK_PERMISSIONS: dict[str, dict[str, frozenset[str]]] = {
    "google_cloud_run_v2_service": {
        "project": frozenset(
            {
                "run.services.create",
                "run.services.get",
                "run.services.update",
                "run.services.delete",
                "run.operations.get",
                # invoker_iam_disabled is written with the service's IAM rights
                "run.services.setIamPolicy",
            }
        ),
        "runtime_account": frozenset({"iam.serviceAccounts.actAs"}),
    },
    "google_cloud_run_v2_service_iam_member": {
        "project": frozenset({"run.services.getIamPolicy", "run.services.setIamPolicy"}),
    },
    "google_secret_manager_secret_version": {
        "secret": frozenset(
            {
                "secretmanager.versions.add",
                "secretmanager.versions.get",
                # the provider reads the value back after writing it and on refresh
                "secretmanager.versions.access",
                "secretmanager.versions.enable",
                "secretmanager.versions.disable",
                "secretmanager.versions.destroy",
            }
        ),
    },
    "data.google_project": {"project": frozenset({"resourcemanager.projects.get"})},
    "data.google_artifact_registry_repositories": {"project": frozenset({"artifactregistry.repositories.list"})},
    # With a tag in image_name the provider lists the repository's images.
    "data.google_artifact_registry_docker_image": {"project": frozenset({"artifactregistry.dockerimages.get", "artifactregistry.dockerimages.list"})},
    "data.google_service_accounts": {"project": frozenset({"iam.serviceAccounts.list"})},
}

# What a read-only plan (refresh) needs for each resource type of both stacks:
# the permissions of the REST methods the google provider 6.50 calls in each
# type's Read (provider source, google/services/<product>/: e.g.
# iam_artifact_registry_repository.go GetResourceIamPolicy -> :getIamPolicy,
# iam_project.go -> projects.getIamPolicy, resource_google_project_iam_custom_role.go
# -> Projects.Roles.Get, resource_iam_workload_identity_pool*.go -> GET of the
# pool / provider, resource_google_project_service.go -> Projects.Get and a
# batched services list), each permission from Google's IAM permissions
# reference. The drift check plans the bootstrap stacks as the planner too.
# Scope as APP_STACK_PERMISSIONS ("secret": on the secret the version belongs to).
READ_PERMISSIONS: dict[str, dict[str, frozenset[str]]] = {
    "google_artifact_registry_repository": {"project": frozenset({"artifactregistry.repositories.get"})},
    "google_artifact_registry_repository_iam_member": {"project": frozenset({"artifactregistry.repositories.getIamPolicy"})},
    "google_cloud_run_v2_service": {"project": frozenset({"run.services.get"})},
    "google_cloud_run_v2_service_iam_member": {"project": frozenset({"run.services.getIamPolicy"})},
    "google_iam_workload_identity_pool": {"project": frozenset({"iam.workloadIdentityPools.get"})},
    "google_iam_workload_identity_pool_provider": {"project": frozenset({"iam.workloadIdentityPoolProviders.get"})},
    "google_project_iam_custom_role": {"project": frozenset({"iam.roles.get"})},
    "google_project_iam_member": {"project": frozenset({"resourcemanager.projects.getIamPolicy"})},
    "google_project_service": {"project": frozenset({"resourcemanager.projects.get", "serviceusage.services.list"})},
    "google_secret_manager_secret": {"project": frozenset({"secretmanager.secrets.get"})},
    "google_secret_manager_secret_iam_member": {"project": frozenset({"secretmanager.secrets.getIamPolicy"})},
    # the provider reads the value back on refresh
    "google_secret_manager_secret_version": {"secret": frozenset({"secretmanager.versions.get", "secretmanager.versions.access"})},
    "google_service_account": {"project": frozenset({"iam.serviceAccounts.get"})},
    "google_service_account_iam_binding": {"project": frozenset({"iam.serviceAccounts.getIamPolicy"})},
    "google_service_account_iam_member": {"project": frozenset({"iam.serviceAccounts.getIamPolicy"})},
    "google_storage_bucket": {"project": frozenset({"storage.buckets.get"})},
    "google_storage_bucket_iam_member": {"project": frozenset({"storage.buckets.getIamPolicy"})},
    "data.google_artifact_registry_docker_image": {"project": frozenset({"artifactregistry.dockerimages.get", "artifactregistry.dockerimages.list"})},
    "data.google_artifact_registry_repositories": {"project": frozenset({"artifactregistry.repositories.list"})},
    "data.google_project": {"project": frozenset({"resourcemanager.projects.get"})},
    "data.google_secret_manager_secrets": {"project": frozenset({"secretmanager.secrets.list"})},
    "data.google_service_accounts": {"project": frozenset({"iam.serviceAccounts.list"})},
}
