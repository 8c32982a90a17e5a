"""The service account that GitHub Actions deploys as, with least privilege."""

from __future__ import annotations

from cdktf_cdktf_provider_google.project_iam_custom_role import ProjectIamCustomRole
from cdktf_cdktf_provider_google.project_iam_member import ProjectIamMember
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from constructs import Construct

from .adoption import adopt_if


def service_account_email(account_id: str, project: str) -> str:
    return f"{account_id}@{project}.iam.gserviceaccount.com"


class CiDeployer(Construct):
    """The deployer account, its project roles, and a custom role for the
    app's buckets. Access to specific resources (state bucket, registry,
    runtime service accounts) is granted on those resources by their owners."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        account_id: str,
        project_roles: list[str],
        bucket_permissions: list[str],
        exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.email = service_account_email(account_id, project)
        self.member = f"serviceAccount:{self.email}"
        self.account = ServiceAccount(
            self,
            "account",
            project=project,
            account_id=account_id,
            display_name="GitHub Actions deployer (managed by cdktf)",
        )
        adopt_if(self.account, exists, f"projects/{project}/serviceAccounts/{self.email}")
        for role in project_roles:
            ProjectIamMember(self, f"role-{role.removeprefix('roles/')}", project=project, role=role, member=self.member)
        if bucket_permissions:
            bucket_role = ProjectIamCustomRole(
                self,
                "bucket-role",
                project=project,
                role_id="cdktfDeployerBuckets",
                title="Deployer: manage app buckets",
                description="Create and configure buckets without deleting any (managed by cdktf)",
                permissions=bucket_permissions,
            )
            ProjectIamMember(self, "role-buckets", project=project, role=bucket_role.name, member=self.member)
