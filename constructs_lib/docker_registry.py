"""The Artifact Registry Docker repository that CI pushes images to."""

from __future__ import annotations

from cdktf_cdktf_provider_google.artifact_registry_repository import (
    ArtifactRegistryRepository,
    ArtifactRegistryRepositoryCleanupPolicies,
    ArtifactRegistryRepositoryCleanupPoliciesCondition,
    ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions,
)
from cdktf_cdktf_provider_google.artifact_registry_repository_iam_member import (
    ArtifactRegistryRepositoryIamMember,
)
from constructs import Construct

from platform_config.naming import registry_url_prefix

from .adoption import adopt_if
from .hardened_bucket import SECONDS_PER_DAY


class DockerRegistry(Construct):
    """A Docker repository whose cleanup keeps the most recent versions and
    deletes untagged images (left behind by re-pushed tags) after a while.

    Example::

        registry = DockerRegistry(
            stack, "registry", project="my-project", region="europe-west1", repository_id="images",
            keep_recent_versions=10, delete_untagged_after_days=7, labels={},
        )
        registry.grant("ci-push", role="roles/artifactregistry.writer", member="serviceAccount:ci@my-project.iam.gserviceaccount.com")
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        region: str,
        repository_id: str,
        keep_recent_versions: int,
        delete_untagged_after_days: int,
        labels: dict[str, str],
        exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.url_prefix = registry_url_prefix(region, project, repository_id)
        self.repository = ArtifactRegistryRepository(
            self,
            "repository",
            project=project,
            location=region,
            repository_id=repository_id,
            format="DOCKER",
            description="Container images of the platform's Cloud Run services (managed by cdktf)",
            labels=labels,
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                # KEEP wins over DELETE, so recent versions survive even when untagged.
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="keep-recent-versions",
                    action="KEEP",
                    most_recent_versions=ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions(keep_count=keep_recent_versions),
                ),
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="delete-old-untagged",
                    action="DELETE",
                    condition=ArtifactRegistryRepositoryCleanupPoliciesCondition(
                        tag_state="UNTAGGED",
                        older_than=f"{delete_untagged_after_days * SECONDS_PER_DAY}s",
                    ),
                ),
            ],
        )
        adopt_if(
            self.repository,
            exists,
            f"projects/{project}/locations/{region}/repositories/{repository_id}",
        )

    def grant(self, id: str, *, role: str, member: str) -> ArtifactRegistryRepositoryIamMember:
        """Grants `role` on this repository only."""
        return ArtifactRegistryRepositoryIamMember(
            self,
            id,
            project=self.repository.project,
            location=self.repository.location,
            repository=self.repository.name,
            role=role,
            member=member,
        )
