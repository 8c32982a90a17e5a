"""The identity a Cloud Run service runs as, and who may use it."""

from __future__ import annotations

from cdktf_cdktf_provider_google.secret_manager_secret_iam_member import SecretManagerSecretIamMember
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from cdktf_cdktf_provider_google.service_account_iam_member import ServiceAccountIamMember
from constructs import Construct

from platform_config.naming import service_account_email

from .adoption import adopt_if


class RuntimeIdentity(Construct):
    """A service's own service account, which can read only the secrets the
    service uses (granted on each secret), and the CI deployer's actAs on this
    account only, so CI can deploy revisions that run as it.

    Admin-applied (bootstrap stack): creating accounts and granting on them
    needs rights that the CI deployer must not hold project-wide.

    Example::

        identity = RuntimeIdentity(
            stack, "api", project="my-project", account_id="api-staging", service_name="api", secrets=["DATABASE_URL"],
            deployer_member="serviceAccount:ci@my-project.iam.gserviceaccount.com",
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        account_id: str,
        service_name: str,
        secrets: list[str],
        deployer_member: str,
        exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.email = service_account_email(account_id, project)
        self.account = ServiceAccount(
            self,
            "identity",
            project=project,
            account_id=account_id,
            display_name=f"Cloud Run runtime of {service_name} (managed by cdktf)",
        )
        adopt_if(self.account, exists, f"projects/{project}/serviceAccounts/{self.email}")
        self.member = f"serviceAccount:{self.account.email}"
        # iam_member grants need no import: adding a member the policy holds
        # already succeeds.
        ServiceAccountIamMember(
            self,
            "deployer-acts-as",
            service_account_id=self.account.name,
            role="roles/iam.serviceAccountUser",
            member=deployer_member,
        )
        for secret in sorted(set(secrets)):
            SecretManagerSecretIamMember(
                self,
                f"reads-{secret}",
                project=project,
                secret_id=secret,
                role="roles/secretmanager.secretAccessor",
                member=self.member,
            )
