"""Ordering whole constructs after other resources."""

from __future__ import annotations

from collections.abc import Iterable

from cdktf import TerraformResource
from constructs import Construct


def after(dependencies: Iterable[TerraformResource], *constructs: Construct) -> None:
    """Makes every resource inside `constructs` wait for `dependencies`
    (e.g. the Google APIs a fresh project must enable first)."""
    addresses = [dependency.fqn for dependency in dependencies]
    for construct in constructs:
        for node in construct.node.find_all():
            if isinstance(node, TerraformResource):
                node.depends_on = [*(node.depends_on or []), *addresses]
