"""Ordering whole constructs after other resources."""

from __future__ import annotations

from collections.abc import Iterable

from cdktf import TerraformResource
from constructs import Construct


def after(dependencies: Iterable[TerraformResource], *constructs: Construct) -> None:
    """Makes every resource inside `constructs` wait for `dependencies`
    (e.g. the Google APIs a fresh project must enable first)."""
    # Plain addresses, as cdktf writes depends_on itself (not "${...}").
    addresses = [f"{d.terraform_resource_type}.{d.friendly_unique_id}" for d in dependencies]
    for construct in constructs:
        for node in construct.node.find_all():
            if isinstance(node, TerraformResource):
                node.depends_on = [*(node.depends_on or []), *addresses]
