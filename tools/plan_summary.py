"""A readable summary of a saved plan (`tofu show -json PLAN`), destructive
changes first, for the job summary, the pull-request comment and drift issues.

    python -m tools.plan_summary PLAN_JSON STACK_NAME
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# Order of appearance: what can lose data or access comes first.
KINDS = ("replace", "delete", "create", "update", "import", "move")


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


def summarize(plan: dict, stack: str) -> str:
    changes = [(kind, c["address"]) for c in plan.get("resource_changes", []) if (kind := change_kind(c))]
    counts = Counter(kind for kind, _ in changes)
    lines = [f"### Plan of `{stack}`", ""]
    if not changes:
        lines.append("No changes.")
        return "\n".join(lines) + "\n"
    lines.append(", ".join(f"{counts[kind]} to {kind}" for kind in KINDS if counts[kind]))
    destructive = counts["replace"] + counts["delete"]
    if destructive:
        lines += ["", f"**{destructive} destructive change(s): read them before approving.**"]
    lines += ["", "| change | address |", "|---|---|"]
    lines += [f"| {kind} | `{address}` |" for kind in KINDS for k, address in changes if k == kind]
    return "\n".join(lines) + "\n"


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
