"""Secret Manager secrets whose value CI itself writes (service URLs).

The secret (container) and who may write and read it are admin-applied
(bootstrap stack); CI adds versions (app stack). Never use these for
credentials: the value is written into state.
"""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_google.secret_manager_secret import (
    SecretManagerSecret,
    SecretManagerSecretReplication,
    SecretManagerSecretReplicationAuto,
)
from cdktf_cdktf_provider_google.secret_manager_secret_iam_member import SecretManagerSecretIamMember
from cdktf_cdktf_provider_google.secret_manager_secret_version import SecretManagerSecretVersion
from constructs import Construct

from .adoption import adopt_if

# What the CI deployer needs on each URL secret: add, enable, disable and
# destroy versions (secretVersionManager), and read them back, as the
# provider does after writing and on every refresh (secretAccessor).
WRITER_ROLES = ("roles/secretmanager.secretVersionManager", "roles/secretmanager.secretAccessor")


def secret_name(project: str, secret_id: str) -> str:
    """The secret's resource name, the provider's `id` of the secret."""
    return f"projects/{project}/secrets/{secret_id}"


class PublishedSecret(Construct):
    """The secret container, granted per secret (never project-wide).

    An adopted secret (`exists`) keeps the replication it was created with:
    replication forces replacement, and a secret made with user-managed
    replication would otherwise be destroyed and re-created. It is also
    protected from `tofu destroy`.

    Example::

        secret = PublishedSecret(stack, "api-url", project="my-project", secret_id="API_URL", labels={})
        secret.grant("deployer", roles=WRITER_ROLES, member="serviceAccount:ci@my-project.iam.gserviceaccount.com")
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        secret_id: str,
        labels: dict[str, str],
        exists: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.secret = SecretManagerSecret(
            self,
            "secret",
            project=project,
            secret_id=secret_id,
            labels=labels,
            replication=SecretManagerSecretReplication(auto=SecretManagerSecretReplicationAuto()),
            lifecycle=TerraformResourceLifecycle(ignore_changes=["replication"], prevent_destroy=True) if exists else None,
        )
        adopt_if(self.secret, exists, secret_name(project, secret_id))

    def grant(self, name: str, *, roles: tuple[str, ...], member: str) -> list[SecretManagerSecretIamMember]:
        """Grants `roles` on this secret to `member`, keyed by `name` (e.g.
        "deployer"), so reordering grants never re-creates them."""
        return [
            SecretManagerSecretIamMember(
                self,
                f"{name}-{role.rsplit('.', 1)[1]}",
                project=self.secret.project,
                secret_id=self.secret.secret_id,
                role=role,
                member=member,
            )
            for role in roles
        ]


class PublishedSecretValue(Construct):
    """The current value of a PublishedSecret of the admin-applied stack,
    named (not referenced) across the stack boundary.

    Example::

        PublishedSecretValue(stack, "api-url-value", project="my-project", secret_id="API_URL", value="https://api.example")
    """

    def __init__(self, scope: Construct, id: str, *, project: str, secret_id: str, value: str) -> None:
        super().__init__(scope, id)
        self.version = SecretManagerSecretVersion(self, "value", secret=secret_name(project, secret_id), secret_data=value)
