"""A Secret Manager secret whose value this stack itself writes."""

from __future__ import annotations

from cdktf_cdktf_provider_google.secret_manager_secret import (
    SecretManagerSecret,
    SecretManagerSecretReplication,
    SecretManagerSecretReplicationAuto,
)
from cdktf_cdktf_provider_google.secret_manager_secret_iam_member import SecretManagerSecretIamMember
from cdktf_cdktf_provider_google.secret_manager_secret_version import SecretManagerSecretVersion
from constructs import Construct

from .adoption import adopt_if


class PublishedSecret(Construct):
    """For values that are not sensitive but that consumers already read from
    Secret Manager (service URLs for CI and other services). Never use it for
    credentials: the value is written into state.

    `readers` may read the value, on this secret only. The writer must be one
    of them: the provider reads a version back after writing it and on every
    refresh.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: str,
        secret_id: str,
        value: str,
        labels: dict[str, str],
        readers: list[str],
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
        )
        adopt_if(self.secret, exists, f"projects/{project}/secrets/{secret_id}")
        grants = [
            SecretManagerSecretIamMember(
                self,
                f"reader-{index}",
                project=project,
                secret_id=self.secret.secret_id,
                role="roles/secretmanager.secretAccessor",
                member=member,
            )
            for index, member in enumerate(readers)
        ]
        self.version = SecretManagerSecretVersion(
            self, "value", secret=self.secret.id, secret_data=value, depends_on=grants
        )
