"""The service account that GitHub Actions deploys as, with least privilege."""

from __future__ import annotations

from cdktf_cdktf_provider_google.project_iam_custom_role import ProjectIamCustomRole
from cdktf_cdktf_provider_google.project_iam_member import ProjectIamMember
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from constructs import Construct

from platform_config.naming import service_account_email

from .adoption import adopt_if


class CiDeployer(Construct):
    """The deployer account, its predefined project roles, and one custom role
    holding exactly the permissions deploying needs. Access to specific
    resources (state bucket, registry, runtime service accounts, URL secrets)
    is granted on those resources by their owners, never project-wide.

    Example::

        deployer = CiDeployer(
            stack, "deployer", project="my-project", account_id="github-deployer", project_roles=["roles/run.developer"],
            custom_role_permissions=["run.services.get"], role_id="cdktfDeployer_staging",
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        account_id: str,
        project_roles: list[str],
        custom_role_permissions: list[str],
        role_id: str,
        exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.account = ServiceAccount(
            self,
            "account",
            project=project,
            account_id=account_id,
            display_name="GitHub Actions deployer (managed by cdktf)",
        )
        # Literal, for import ids (which cannot hold references).
        self.email = service_account_email(account_id, project)
        adopt_if(self.account, exists, f"projects/{project}/serviceAccounts/{self.email}")
        # A reference, so grants wait for the account on a fresh project.
        self.member = f"serviceAccount:{self.account.email}"
        for role in project_roles:
            ProjectIamMember(self, f"role-{role.removeprefix('roles/')}", project=project, role=role, member=self.member)
        if custom_role_permissions:
            custom_role = ProjectIamCustomRole(
                self,
                "custom-role",
                project=project,
                role_id=role_id,
                title="CI deployer",
                description="Exactly what deploying the app stack needs (managed by cdktf)",
                permissions=custom_role_permissions,
            )
            ProjectIamMember(self, "role-custom", project=project, role=custom_role.name, member=self.member)
