"""Markdown report of what changed between two synthesized trees.

    python -m tools.synth_diff BASE_OUT HEAD_OUT [--fail-on-destructive]
    (make synth-diff BASE=<cdktf.out> HEAD=<cdktf.out> [FAIL_ON_DESTRUCTIVE=1])

Per stack: added, removed and changed resources by address, and for changed
ones each attribute path with old -> new. cdktf's `//` metadata is ignored.
Destructive: removed resources and stacks (an IAM grant removed is named as
such), changed backends, changes to attributes that force replacement
(FORCES_REPLACEMENT; not those of REPLACED_NOT_DESTRUCTIVE, a value the stack
itself writes, such as the URL secret's version when a service is added), and safety turned off: deletion protection,
`prevent_destroy`, `force_destroy` turned on, members dropped from an
authoritative IAM binding. A data source or another block (variable,
output, import...) that disappears destroys nothing: listed as dropped. Values cut short in the report are shown in full
in a collapsed block. A resource moved to
another stack is not destructive: it leaves its old stack through a
`removed` block with `destroy = false` (reported as moved out, with the
destination named in the block's `//` comment) and enters the new one through
an `import` block (reported as imported). Deterministic, and short enough
for a GitHub comment.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.cli import InputError, OneLineParser, cap_lines, read_json
from tools.cli import shorten as cli_shorten

MARKER = "<!-- cdktf-synth-diff -->"
# GitHub refuses comments over 65,536 characters; leave room for the note.
MAX_REPORT_CHARS = 60_000
MAX_VALUE_CHARS = 80

# Attributes whose change makes the google provider destroy and re-create the
# resource, for the resource types this project uses. IAM members are left
# out on purpose: re-creating a binding is how IAM changes are applied.
FORCES_REPLACEMENT: dict[str, frozenset[str]] = {
    "google_storage_bucket": frozenset({"name", "location", "project"}),
    "google_artifact_registry_repository": frozenset({"repository_id", "format", "location", "project", "mode"}),
    "google_service_account": frozenset({"account_id", "project"}),
    "google_iam_workload_identity_pool": frozenset({"workload_identity_pool_id", "project"}),
    "google_iam_workload_identity_pool_provider": frozenset({"workload_identity_pool_id", "workload_identity_pool_provider_id", "project"}),
    "google_project_iam_custom_role": frozenset({"role_id", "project"}),
    "google_project_service": frozenset({"service", "project"}),
    "google_cloud_run_v2_service": frozenset({"name", "location", "project"}),
    "google_secret_manager_secret": frozenset({"secret_id", "project", "replication"}),
    "google_secret_manager_secret_version": frozenset({"secret"}),
}

# Attributes whose change replaces the resource but loses nothing: the stack
# writes these values itself (constructs_lib/published_secret.py: service
# URLs, never credentials), so the replacement adds a version with the new
# value, which readers of `latest` get. Adding a service changes the JSON of
# every URL this way.
REPLACED_NOT_DESTRUCTIVE: dict[str, frozenset[str]] = {
    "google_secret_manager_secret_version": frozenset({"secret_data"}),
}
REPLACED_NOTE = "replaced by a new version of a value the stack writes: not destructive"

# Resource types without an entry above, on purpose: every attribute of an IAM
# grant forces its replacement, and re-creating a grant is how the google
# provider applies an IAM change (nothing is lost). A test requires every
# synthesized type in one of the two tables.
REPLACEMENT_NOT_DESTRUCTIVE: frozenset[str] = frozenset(
    {
        "google_artifact_registry_repository_iam_member",
        "google_cloud_run_v2_service_iam_member",
        "google_project_iam_member",
        "google_secret_manager_secret_iam_member",
        "google_service_account_iam_binding",
        "google_service_account_iam_member",
        "google_storage_bucket_iam_member",
    }
)

# Top-level blocks reported as a whole, besides resources and data sources.
OTHER_BLOCKS = ("terraform", "provider", "variable", "output", "import", "removed", "locals")


# Attributes whose change switches a safety off: (the safe value, whether
# leaving it out is safe too (the provider's default), why it matters).
SAFETY_SETTINGS: dict[str, tuple[Any, bool, str]] = {
    "deletion_protection": (True, True, "deletion protection turned off"),
    "prevent_destroy": (True, False, "prevent_destroy removed"),
    "force_destroy": (False, True, "force_destroy turned on: a destroy deletes every object"),
}
IAM_SUFFIXES = ("_iam_member", "_iam_binding", "_iam_policy")


@dataclass
class Change:
    path: str
    old: Any
    new: Any
    # Why the change is destructive; None when it is not.
    risk: str | None = None
    # What else the reader should know (a replacement that loses nothing).
    note: str | None = None

    @property
    def destructive(self) -> bool:
        return self.risk is not None


@dataclass
class StackDiff:
    name: str
    status: str  # "added", "removed", "changed", "unchanged"
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[Change]] = field(default_factory=dict)
    # Address -> where it went: forgotten here (`removed`, destroy = false), not destroyed.
    moved_out: dict[str, str] = field(default_factory=dict)
    # Added addresses that adopt an existing resource (`import`), not create one.
    imported: list[str] = field(default_factory=list)
    # Gone, destroying nothing: data sources no longer read, other blocks (variables, outputs, imports...).
    dropped: list[str] = field(default_factory=list)

    @property
    def destructive(self) -> bool:
        return bool(self.removed) or any(c.destructive for changes in self.changed.values() for c in changes)


def read_tree(outdir: Path) -> dict[str, dict]:
    """Stack name -> JSON of every stack under `outdir`; InputError for a
    missing folder, a folder without stacks (a failed synthesis must not read
    as "no changes") or a stack that is not a cdktf JSON object."""
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise InputError(f"{outdir} is not a directory; pass the cdktf.out folder of a synthesis")
    tree = {path.parent.name: _read_stack(path) for path in sorted(outdir.glob("stacks/*/cdk.tf.json"))}
    if not tree:
        raise InputError(f"{outdir} holds no synthesized stack (stacks/*/cdk.tf.json); did the synthesis fail?")
    return tree


def _read_stack(path: Path) -> dict:
    stack = read_json(path)
    sections = [stack.get(kind) for kind in ("resource", "data")] if isinstance(stack, dict) else []
    well_formed = isinstance(stack, dict) and all(
        section is None
        or (isinstance(section, dict) and all(isinstance(items, dict) and all(isinstance(body, dict) for body in items.values()) for items in section.values()))
        for section in sections
    )
    if not well_formed:
        raise InputError(f"{path} is not a cdktf stack (a JSON object whose resource and data blocks map types to named objects)")
    return stack


def without_metadata(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_metadata(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [without_metadata(v) for v in value]
    return value


def blocks(stack: dict) -> dict[str, Any]:
    """Address -> body for resources, data sources and the other top-level blocks."""
    stack = without_metadata(stack)
    found: dict[str, Any] = {}
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for resource_type, items in stack.get(kind, {}).items():
            for name, body in items.items():
                found[f"{prefix}{resource_type}.{name}"] = body
    for block in OTHER_BLOCKS:
        if block in stack:
            found[block] = stack[block]
    return found


def _keyed(items: list) -> dict[str, Any] | None:
    """Lists of named objects (env vars) compare by name, not position."""
    names = [item.get("name") for item in items if isinstance(item, dict)]
    if len(names) == len(items) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return {f"[name={n}]": item for n, item in zip(names, items, strict=False)}
    return None


def attribute_changes(old: Any, new: Any, path: str = "") -> list[Change]:
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            changes += attribute_changes(old.get(key), new.get(key), sub)
        return changes
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            return [
                change
                for key in sorted(set(old_keyed) | set(new_keyed))
                for change in attribute_changes(old_keyed.get(key), new_keyed.get(key), f"{path}{key}")
            ]
        return [
            change
            for index in range(max(len(old), len(new)))
            for change in attribute_changes(old[index] if index < len(old) else None, new[index] if index < len(new) else None, f"{path}[{index}]")
        ]
    return [] if old == new else [Change(path, old, new)]


def forgotten(stack: dict) -> dict[str, str]:
    """Addresses a `removed` block with `destroy = false` drops from state
    while keeping the object; value: the block's `//` note (the destination)."""
    return {block["from"]: str(block.get("//", "")) for block in stack.get("removed", []) if block.get("lifecycle", {}).get("destroy") is False}


def diff_stack(name: str, base: dict | None, head: dict | None) -> StackDiff:
    old, new = blocks(base or {}), blocks(head or {})
    status = "added" if base is None else "removed" if head is None else "changed"
    result = StackDiff(name, status)
    result.added = sorted(a for a in new if a not in old)
    kept = forgotten(head or {})
    gone = sorted(a for a in old if a not in new)
    result.moved_out = {a: kept[a] for a in gone if a in kept}
    result.removed = [a for a in gone if a not in kept and destroys(a)]
    result.dropped = [a for a in gone if a not in kept and not destroys(a)]
    imports = {entry.get("to") for entry in (head or {}).get("import", [])}
    result.imported = [a for a in result.added if a in imports]
    for address in sorted(set(old) & set(new)):
        changes = attribute_changes(old[address], new[address])
        if changes:
            for change in changes:
                change.risk = risk(address, change)
                if change.risk is None and _top_attribute(change.path) in REPLACED_NOT_DESTRUCTIVE.get(address.split(".")[0], ()):
                    change.note = REPLACED_NOTE
            result.changed[address] = changes
    if status == "changed" and not (result.added or result.removed or result.changed or result.moved_out or result.dropped):
        result.status = "unchanged"
    return result


def risk(address: str, change: Change) -> str | None:
    """Why `change` of the block at `address` is destructive, or None."""
    if forces_replacement(address, change.path):
        return "forces replacement"
    setting = change.path.split(".")[-1].split("[")[0]
    if setting in SAFETY_SETTINGS:
        safe, absent_is_safe, why = SAFETY_SETTINGS[setting]

        def is_safe(value: Any) -> bool:
            return value == safe or (value is None and absent_is_safe)

        if is_safe(change.old) and not is_safe(change.new):
            return why
    if address.split(".")[0].endswith(IAM_SUFFIXES) and change.path.startswith("members") and change.new is None:
        return "IAM member removed: access revoked"
    return None


def destroys(address: str) -> bool:
    """Does removing the block at `address` destroy something? A resource
    does; a data source, variable, output, import or removed block does not;
    the `terraform` block holds the backend (the state's place)."""
    return address == "terraform" or not (address.startswith("data.") or address in OTHER_BLOCKS)


def _top_attribute(path: str) -> str:
    return path.split(".")[0].split("[")[0]


def is_iam(address: str) -> bool:
    return address.split(".")[0].endswith(IAM_SUFFIXES)


def forces_replacement(address: str, path: str) -> bool:
    if address == "terraform":
        # State in another place: the next apply would not see what exists.
        return path.startswith("backend")
    return _top_attribute(path) in FORCES_REPLACEMENT.get(address.split(".")[0], frozenset())


def diff_trees(base: dict[str, dict], head: dict[str, dict]) -> list[StackDiff]:
    return [diff_stack(name, base.get(name), head.get(name)) for name in sorted(set(base) | set(head))]


def shorten(value: Any) -> str:
    return cli_shorten(value, MAX_VALUE_CHARS)


def render(diffs: list[StackDiff]) -> str:
    changed = [d for d in diffs if d.status != "unchanged"]
    lines = [MARKER, "## Synth diff", ""]
    if not changed:
        lines.append("No changes: every synthesized stack is identical.")
        return "\n".join(lines) + "\n"
    destructive = [d.name for d in changed if d.destructive]
    lines.append(f"{len(changed)} of {len(diffs)} stacks changed.")
    if destructive:
        lines.append(f"**Destructive changes (⚠) in: {', '.join(destructive)}.** Read them before merging.")
    for d in changed:
        flag = " ⚠" if d.destructive else ""
        label = {"added": " (new stack)", "removed": " (stack removed)"}.get(d.status, "")
        moved = f", {len(d.moved_out)} moved out" if d.moved_out else ""
        dropped = f", {len(d.dropped)} dropped" if d.dropped else ""
        lines += ["", f"### {d.name}{label}: {len(d.added)} added, {len(d.removed)} removed{moved}{dropped}, {len(d.changed)} changed{flag}"]
        if d.added:
            lines += ["", "Added:"] + [f"- `{a}`{' (imported: adopts what exists)' if a in d.imported else ''}" for a in d.added]
        if d.moved_out:
            lines += ["", "Moved out (forgotten here, kept in Google Cloud: `removed` with destroy = false):"]
            lines += [f"- `{a}`{f' → {note}' if note else ''}" for a, note in d.moved_out.items()]
        if d.removed:
            lines += ["", "Removed (destroyed on apply) ⚠:"]
            lines += [f"- ⚠ `{a}`{' (IAM grant removed: access revoked)' if is_iam(a) else ''}" for a in d.removed]
        if d.dropped:
            lines += ["", "Dropped (nothing destroyed: data sources no longer read, other blocks):"]
            lines += [f"- `{a}`" for a in d.dropped]
        if d.changed:
            lines += ["", "Changed:"]
            for address, changes in d.changed.items():
                lines.append(f"- `{address}`")
                for c in changes:
                    warning = "⚠ " if c.destructive else ""
                    note = f" ({c.risk or c.note})" if c.risk or c.note else ""
                    lines.append(f"  - {warning}`{c.path}`: `{shorten(c.old)}` → `{shorten(c.new)}`{note}")
            lines += full_values(d)
    return truncate("\n".join(lines) + "\n")


def full_values(d: StackDiff) -> list[str]:
    """The changes whose values the list cut short, whole, in a collapsed block."""
    cut = [(address, c) for address, changes in d.changed.items() for c in changes if shorten(c.old) != _whole(c.old) or shorten(c.new) != _whole(c.new)]
    if not cut:
        return []
    lines = ["", "<details><summary>Full values of the shortened changes</summary>", ""]
    for address, c in cut:
        lines += [f"`{address}` `{c.path}`", "", "```", f"- {_whole(c.old)}", f"+ {_whole(c.new)}", "```", ""]
    return lines + ["</details>"]


def _whole(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=True)


def truncate(report: str) -> str:
    return cap_lines(report, MAX_REPORT_CHARS, lambda dropped: f"\n\n… report truncated: {dropped} more lines. Run `make synth-diff` locally for all of it.\n")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m tools.synth_diff", description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("head", type=Path)
    parser.add_argument("--fail-on-destructive", action="store_true")
    args = parser.parse_args(argv)
    try:
        diffs = diff_trees(read_tree(args.base), read_tree(args.head))
    except InputError as error:
        print(f"error: synth diff: {error}", file=sys.stderr)
        return 2
    except RecursionError:
        print("error: synth diff: a stack is nested too deeply to compare; is it synthesized JSON?", file=sys.stderr)
        return 2
    sys.stdout.write(render(diffs))
    if args.fail_on_destructive and any(d.destructive for d in diffs):
        print("synth diff: destructive changes found (see the report)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
