"""Queries over synthesized Terraform JSON, in the spirit of AWS CDK's assertions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# A resource or data-source address inside an interpolation, e.g.
# ${jsonencode({a = google_cloud_run_v2_service.agent_1234.uri})}.
REFERENCE = re.compile(r"(?<![\w.])((?:data\.)?google_[a-z0-9_]+\.[A-Za-z0-9_-]+)")


def resources(stack: dict, resource_type: str) -> dict[str, dict]:
    return stack.get("resource", {}).get(resource_type, {})


def data_sources(stack: dict, data_type: str) -> dict[str, dict]:
    return stack.get("data", {}).get(data_type, {})


def only(stack: dict, resource_type: str) -> dict:
    found = list(resources(stack, resource_type).values())
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]


def addresses(stack: dict) -> Iterator[tuple[str, dict]]:
    """(address, body) of every resource and data source."""
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for resource_type, items in stack.get(kind, {}).items():
            for name, body in items.items():
                yield f"{prefix}{resource_type}.{name}", body


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON value, cdktf's `//` metadata excluded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "//":
                yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def references(body: dict) -> set[str]:
    """Addresses that a resource refers to (interpolations and depends_on)."""
    found = {match for text in strings(body) if "${" in text for match in REFERENCE.findall(text)}
    return found | set(body.get("depends_on", []))


def find_cycle(stack: dict) -> list[str] | None:
    """A dependency cycle among the stack's resources, or None."""
    graph = {address: references(body) for address, body in addresses(stack)}
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in graph:
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def address_of(stack: dict, resource_type: str, predicate) -> str:
    matches = [name for name, body in resources(stack, resource_type).items() if predicate(body)]
    assert len(matches) == 1, f"expected one matching {resource_type}, found {matches}"
    return f"{resource_type}.{matches[0]}"
