"""The operator secrets exist before the bootstrap grants anything on them."""

from __future__ import annotations

import json

from cdktf import Postcondition, TerraformResourceLifecycle
from cdktf_cdktf_provider_google.data_google_secret_manager_secrets import DataGoogleSecretManagerSecrets
from constructs import Construct

# The secret ids the project lists, as the data source reads them.
LISTED_IDS = "self.secrets[*].secret_id"


def missing_ids_expression(secret_ids: list[str]) -> str:
    return f"sort(setsubtract({json.dumps(sorted(set(secret_ids)))}, {LISTED_IDS}))"


class OperatorSecretsPresent(Construct):
    """Refuses the plan, before anything changes, while a secret that a
    runtime identity is granted on does not exist: one line per missing
    secret with the command that creates it.

    Without it, `getIamPolicy` on a missing secret answers 404 in the middle
    of the apply, after part of the stack was created. The secrets' values
    never pass through this project: only their ids are listed (the admin
    applying the bootstrap may list them).

    Example::

        OperatorSecretsPresent(stack, "operator-secrets", project="my-project", secret_ids=["DATABASE_URL"])
    """

    def __init__(self, scope: Construct, id: str, *, project: str, secret_ids: list[str]) -> None:
        super().__init__(scope, id)
        missing = missing_ids_expression(secret_ids)
        line = (
            f"operator secret ${{id}} does not exist in {project}: an operator creates it with its value before this apply: "
            f"`gcloud secrets create ${{id}} --project {project} --data-file=-`"
        )
        self.listing = DataGoogleSecretManagerSecrets(
            self,
            "listed",
            project=project,
            lifecycle=TerraformResourceLifecycle(
                postcondition=[
                    Postcondition(
                        condition=f"${{length({missing}) == 0}}",
                        error_message=f'${{join("\\n", [for id in {missing} : "{line}"])}}',
                    )
                ]
            ),
        )
