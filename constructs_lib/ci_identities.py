"""The CI identities besides the deployer: the planner (read-only plans of
pull requests and drift checks) and the builder (image pushes). Access to
specific resources (state bucket, registry, URL secrets) is granted on those
resources; the project gets one custom role each, holding exactly this list."""

from __future__ import annotations

from cdktf_cdktf_provider_google.project_iam_custom_role import ProjectIamCustomRole
from cdktf_cdktf_provider_google.project_iam_member import ProjectIamMember
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from constructs import Construct

from platform_config.role_permissions import BUILDER_PERMISSIONS, PLANNER_PERMISSIONS


class CiIdentity(Construct):
    """A service account for CI with one custom project role of exactly
    `permissions` (`role_id` per environment: platform_config.ci_role_id).

    Example::

        planner = ci_planner(stack, "planner", project="my-project", account_id="github-planner", role_id="cdktfPlanner_staging")
        custom = CiIdentity(
            stack, "auditor", project="my-project", account_id="auditor", display_name="Auditor",
            role_id="auditor_staging", permissions=["run.services.list"],
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        account_id: str,
        display_name: str,
        role_id: str,
        permissions: list[str],
    ) -> None:
        super().__init__(scope, id)
        self.project = project
        self.account = ServiceAccount(self, "account", project=project, account_id=account_id, display_name=f"{display_name} (managed by cdktf)")
        # A reference, so grants wait for the account on a fresh project.
        self.member = f"serviceAccount:{self.account.email}"
        role = ProjectIamCustomRole(
            self,
            "custom-role",
            project=project,
            role_id=role_id,
            title=display_name,
            description=f"Exactly what the {display_name} needs (managed by cdktf)",
            permissions=permissions,
        )
        ProjectIamMember(self, "role-custom", project=project, role=role.name, member=self.member)


def ci_planner(scope: Construct, id: str, *, project: str, account_id: str, role_id: str) -> CiIdentity:
    return CiIdentity(scope, id, project=project, account_id=account_id, display_name="CI planner", role_id=role_id, permissions=PLANNER_PERMISSIONS)


def ci_builder(scope: Construct, id: str, *, project: str, account_id: str, role_id: str) -> CiIdentity:
    return CiIdentity(scope, id, project=project, account_id=account_id, display_name="CI builder", role_id=role_id, permissions=BUILDER_PERMISSIONS)
