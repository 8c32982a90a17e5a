"""A readable summary of a saved plan (`tofu show -json PLAN`), destructive
changes first, for the job summary, the pull-request comment and drift issues.

    python -m tools.plan_summary PLAN_JSON STACK_NAME

The table of changes; then per Cloud Run service the image from -> to (the
tag, from the `image_tags` output's change, and the digest when only that
changed); then, per replaced or updated resource, each changed attribute
old -> new (sensitive values are never shown; values known only after apply
say so; the attributes that force a replacement are marked). Capped in size:
MAX_ATTRIBUTES per resource, MAX_CHARS in all. Shapes: OpenTofu's JSON output
format (https://opentofu.org/docs/internals/json-format/): resource_changes[]
with change.actions, before, after, after_unknown, before_sensitive,
after_sensitive, replace_paths; output_changes.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from platform_config.naming import IMAGE_TAGS_OUTPUT
from tools.cli import cap_lines, shorten

# Order of appearance: what can lose data or access comes first.
KINDS = ("replace", "delete", "create", "update", "import", "move")
MAX_ATTRIBUTES = 15
MAX_VALUE_CHARS = 80
# The pull-request comment holds the synth diff and every environment's plan
# (GitHub's limit is 65,536 characters).
MAX_CHARS = 15_000
UNKNOWN = "(known after apply)"
SENSITIVE = "(sensitive)"
CLOUD_RUN_SERVICE = "google_cloud_run_v2_service"


def change_kind(change: dict) -> str | None:
    """replace, delete, create, update, import, move, or None for no change."""
    actions = change.get("change", {}).get("actions", [])
    if "delete" in actions and "create" in actions:
        return "replace"
    for action in ("delete", "create", "update"):
        if action in actions:
            return action
    if change.get("change", {}).get("importing"):
        return "import"
    if change.get("previous_address"):
        return "move"
    return None


def _sub(mask: Any, key: str | int) -> Any:
    """The part of an after_unknown / *_sensitive mask at `key` (True covers everything below)."""
    if mask is True:
        return True
    if isinstance(mask, dict) and isinstance(key, str):
        return mask.get(key)
    if isinstance(mask, list) and isinstance(key, int) and key < len(mask):
        return mask[key]
    return None


def _value(value: Any) -> str:
    return shorten(value, MAX_VALUE_CHARS)


def attribute_changes(
    before: Any, after: Any, unknown: Any = None, before_sensitive: Any = None, after_sensitive: Any = None, path: str = ""
) -> list[tuple[str, str, str]]:
    """(path, old, new) of every leaf that differs, values shown as the report prints them."""
    if unknown is True:
        return [(path, SENSITIVE if before_sensitive is True else _value(before), UNKNOWN)]
    if before_sensitive is True or after_sensitive is True:
        return [] if before == after else [(path, SENSITIVE, SENSITIVE)]

    def below(old: Any, new: Any, key: str | int, sub_path: str) -> list[tuple[str, str, str]]:
        return attribute_changes(old, new, _sub(unknown, key), _sub(before_sensitive, key), _sub(after_sensitive, key), sub_path)

    if isinstance(before, dict) or isinstance(after, dict):
        old, new = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
        keys = sorted(set(old) | set(new) | (set(unknown) if isinstance(unknown, dict) else set()))
        return [found for key in keys for found in below(old.get(key), new.get(key), key, f"{path}.{key}" if path else key)]
    if isinstance(before, list) or isinstance(after, list):
        old_items, new_items = before if isinstance(before, list) else [], after if isinstance(after, list) else []
        length = max(len(old_items), len(new_items), len(unknown) if isinstance(unknown, list) else 0)
        return [
            found
            for index in range(length)
            for found in below(
                old_items[index] if index < len(old_items) else None,
                new_items[index] if index < len(new_items) else None,
                index,
                f"{path}[{index}]",
            )
        ]
    return [] if before == after else [(path, _value(before), _value(after))]


def _container_image(values: Any, unknown: Any = None) -> str | None:
    """template[0].containers[0].image of a Cloud Run v2 service's values; UNKNOWN when known after apply."""
    node, mask = values, unknown
    for key in ("template", 0, "containers", 0, "image"):
        if mask is True:
            return UNKNOWN
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and len(node) > key else None
        else:
            node = node.get(key) if isinstance(node, dict) else None
        mask = _sub(mask, key)
    return UNKNOWN if mask is True else node


def _image_name(reference: str | None) -> str | None:
    """mesh of us-east4-docker.pkg.dev/p/r/mesh@sha256:... or .../mesh:v1."""
    if not reference or reference == UNKNOWN:
        return None
    last = reference.rsplit("/", 1)[-1]
    return last.split("@")[0].split(":")[0]


def image_lines(plan: dict, changes: list[tuple[str, dict]]) -> list[str]:
    """Per Cloud Run service whose image changes: the tag from -> to (and the digest when only it changed)."""
    tags = plan.get("output_changes", {}).get(IMAGE_TAGS_OUTPUT, {})
    before_tags = tags.get("before") if isinstance(tags.get("before"), dict) else {}
    after_tags = tags.get("after") if isinstance(tags.get("after"), dict) else {}
    lines = []
    for kind, resource in changes:
        if resource.get("type") != CLOUD_RUN_SERVICE:
            continue
        change = resource.get("change", {})
        old = _container_image(change.get("before"))
        new = _container_image(change.get("after"), change.get("after_unknown"))
        if old == new:
            continue
        values = change.get("after") or change.get("before") or {}
        image = _image_name(new) or _image_name(old)
        old_tag, new_tag = before_tags.get(image), after_tags.get(image)
        if old_tag and old_tag == new_tag:  # the same tag, pushed again
            old_tag, new_tag = f"{old_tag} {_value(old)}", f"{new_tag} {_value(new)}"
        shown_old = old_tag or (_value(old) if old else "(new)")
        shown_new = new_tag or ("(removed)" if kind == "delete" else _value(new) if new != UNKNOWN else UNKNOWN)
        lines.append(f"- `{values.get('name', resource.get('address'))}` ({image}): `{shown_old}` → `{shown_new}`")
    return lines


def attribute_lines(changes: list[tuple[str, dict]]) -> list[str]:
    """Per replaced or updated resource, destructive first: each changed attribute, capped."""
    lines = []
    for kind, resource in changes:
        if kind not in ("replace", "update"):
            continue
        change = resource.get("change", {})
        found = attribute_changes(
            change.get("before"), change.get("after"), change.get("after_unknown"), change.get("before_sensitive"), change.get("after_sensitive")
        )
        forcing = {_path(p) for p in change.get("replace_paths", [])}
        lines.append(f"- {kind} `{resource['address']}`")
        for path, old, new in found[:MAX_ATTRIBUTES]:
            note = " (forces replacement)" if path in forcing else ""
            lines.append(f"  - `{path}`: `{old}` → `{new}`{note}")
        if len(found) > MAX_ATTRIBUTES:
            lines.append(f"  - … {len(found) - MAX_ATTRIBUTES} more changed attribute(s)")
    return lines


def _path(steps: list) -> str:
    """replace_paths entry (["template", 0, "name"]) as attribute_changes writes paths."""
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def summarize(plan: dict, stack: str) -> str:
    resources = [(kind, c) for c in plan.get("resource_changes", []) if (kind := change_kind(c))]
    ordered = [(kind, c) for k in KINDS for kind, c in resources if kind == k]
    counts = Counter(kind for kind, _ in resources)
    lines = [f"### Plan of `{stack}`", ""]
    if not resources:
        lines.append("No changes.")
        return "\n".join(lines) + "\n"
    lines.append(", ".join(f"{counts[kind]} to {kind}" for kind in KINDS if counts[kind]))
    destructive = counts["replace"] + counts["delete"]
    if destructive:
        lines += ["", f"**{destructive} destructive change(s): read them before approving.**"]
    lines += ["", "| change | address |", "|---|---|"]
    lines += [f"| {kind} | `{c['address']}` |" for kind, c in ordered]
    images = image_lines(plan, ordered)
    if images:
        lines += ["", "Images (service: from → to):", *images]
    attributes = attribute_lines(ordered)
    if attributes:
        lines += ["", "Changed attributes (replacements first):", *attributes]
    return _capped("\n".join(lines) + "\n")


def _capped(text: str) -> str:
    return cap_lines(text, MAX_CHARS, lambda dropped: f"\n… {dropped} more line(s): `tofu show` of the saved plan has them all.\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tools.plan_summary PLAN_JSON STACK_NAME", file=sys.stderr)
        return 2
    try:
        plan = json.loads(Path(argv[0]).read_text())
    except OSError as error:
        print(f"error: cannot read {argv[0]}: {error.strerror}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as error:
        print(f"error: {argv[0]} is not the JSON of `tofu show -json` ({error.msg})", file=sys.stderr)
        return 2
    if not isinstance(plan, dict):
        print(f"error: {argv[0]} is not the JSON of `tofu show -json`", file=sys.stderr)
        return 2
    print(summarize(plan, argv[1]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
