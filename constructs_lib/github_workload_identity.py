"""Keyless GitHub Actions authentication: Workload Identity Federation."""

from __future__ import annotations

from cdktf_cdktf_provider_google.iam_workload_identity_pool import IamWorkloadIdentityPool
from cdktf_cdktf_provider_google.iam_workload_identity_pool_provider import (
    IamWorkloadIdentityPoolProvider,
    IamWorkloadIdentityPoolProviderOidc,
)
from cdktf_cdktf_provider_google.service_account_iam_binding import ServiceAccountIamBinding
from constructs import Construct

from platform_config.workload_identity import ACCESS_LEVELS, GITHUB_ISSUER

from .adoption import adopt_if


class GitHubWorkloadIdentity(Construct):
    """A pool with one GitHub OIDC provider. The provider's condition admits
    the tokens that may act at all; its mapping sets `attribute.access` to the
    kind of access a token gets (platform_config/workload_identity.py), and
    each service account admits exactly one kind.

    Example::

        github = GitHubWorkloadIdentity(
            stack, "github", project="my-project", pool_id="github", provider_id="github-actions",
            attribute_condition="assertion.repository == 'me/app'",
            attribute_mapping={"google.subject": "assertion.sub", "attribute.access": "'deploy'"},
        )
        github.allow_impersonation(
            "deployer-impersonation", service_account_name="projects/my-project/serviceAccounts/d@my-project.iam.gserviceaccount.com",
            accesses=["deploy"],
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        pool_id: str,
        provider_id: str,
        attribute_condition: str,
        attribute_mapping: dict[str, str],
        pool_exists: bool = False,
        provider_exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        if not attribute_condition.strip():
            # Without a condition every GitHub repository could authenticate.
            raise ValueError("GitHubWorkloadIdentity: attribute_condition must not be empty")
        if "attribute.access" not in attribute_mapping:
            raise ValueError("GitHubWorkloadIdentity: attribute_mapping must map attribute.access")
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
            attribute_mapping=attribute_mapping,
            attribute_condition=attribute_condition,
            oidc=IamWorkloadIdentityPoolProviderOidc(issuer_uri=GITHUB_ISSUER),
        )
        adopt_if(
            self.provider,
            provider_exists,
            f"projects/{project}/locations/global/workloadIdentityPools/{pool_id}/providers/{provider_id}",
        )

    def allow_impersonation(self, id: str, *, service_account_name: str, accesses: list[str]) -> ServiceAccountIamBinding:
        """Lets tokens mapped to one of `accesses` act as the service account,
        and no one else: the binding is authoritative for the role, so members
        added by hand (e.g. an older principalSet of the whole repository) are removed."""
        unknown = [access for access in accesses if access not in ACCESS_LEVELS]
        if unknown or not accesses:
            raise ValueError(f"GitHubWorkloadIdentity: accesses {accesses!r} must be some of {', '.join(ACCESS_LEVELS)}")
        return ServiceAccountIamBinding(
            self,
            id,
            service_account_id=service_account_name,
            role="roles/iam.workloadIdentityUser",
            members=[f"principalSet://iam.googleapis.com/{self.pool.name}/attribute.access/{access}" for access in accesses],
        )
