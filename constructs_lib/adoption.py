"""Adopting resources that already exist instead of failing with HTTP 409."""

from cdktf import TerraformResource


def adopt_if(resource: TerraformResource, existing: bool, import_id: str) -> None:
    """Adds an OpenTofu `import` block for `resource` when it already exists.

    `import_id` must be the id format that the google provider documents for
    the resource type; a wrong one fails `tofu plan`, not `tofu apply`.
    """
    if existing:
        resource.import_from(import_id)
