"""Keyless GitHub Actions authentication: Workload Identity Federation."""

from __future__ import annotations

from cdktf_cdktf_provider_google.iam_workload_identity_pool import IamWorkloadIdentityPool
from cdktf_cdktf_provider_google.iam_workload_identity_pool_provider import (
    IamWorkloadIdentityPoolProvider,
    IamWorkloadIdentityPoolProviderOidc,
)
from cdktf_cdktf_provider_google.service_account_iam_member import ServiceAccountIamMember
from constructs import Construct

from .adoption import adopt_if

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

# Claims of GitHub's OIDC token carried into Google attributes.
GITHUB_ATTRIBUTE_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.repository_owner": "assertion.repository_owner",
    "attribute.ref": "assertion.ref",
}


class GitHubWorkloadIdentity(Construct):
    """A pool with one GitHub OIDC provider whose condition pins the repository
    (and branch); only that repository may then impersonate a service account."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        pool_id: str,
        provider_id: str,
        repository: str,
        attribute_condition: str,
        pool_exists: bool = False,
        provider_exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        if not attribute_condition.strip():
            # The configuration refuses this already; a construct used on its own must too.
            raise ValueError("GitHubWorkloadIdentity: attribute_condition must not be empty")
        self.repository = repository
        self.pool = IamWorkloadIdentityPool(
            self,
            "pool",
            project=project,
            workload_identity_pool_id=pool_id,
            display_name="GitHub Actions",
            description="GitHub Actions deployments (managed by cdktf)",
        )
        adopt_if(
            self.pool,
            pool_exists,
            f"projects/{project}/locations/global/workloadIdentityPools/{pool_id}",
        )
        self.provider = IamWorkloadIdentityPoolProvider(
            self,
            "provider",
            project=project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=provider_id,
            display_name="GitHub OIDC",
            attribute_mapping=GITHUB_ATTRIBUTE_MAPPING,
            attribute_condition=attribute_condition,
            oidc=IamWorkloadIdentityPoolProviderOidc(issuer_uri=GITHUB_ISSUER),
        )
        adopt_if(
            self.provider,
            provider_exists,
            f"projects/{project}/locations/global/workloadIdentityPools/{pool_id}/providers/{provider_id}",
        )

    def allow_impersonation(self, id: str, *, service_account_name: str) -> ServiceAccountIamMember:
        """Lets workflows of the pinned repository act as the service account."""
        return ServiceAccountIamMember(
            self,
            id,
            service_account_id=service_account_name,
            role="roles/iam.workloadIdentityUser",
            member=f"principalSet://iam.googleapis.com/{self.pool.name}/attribute.repository/{self.repository}",
        )
