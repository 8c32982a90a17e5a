"""Protecting what lives in the synthesis output folder."""

from __future__ import annotations

from pathlib import Path

from platform_config.naming import LOCAL_STATE_FILE


def orphaned_state_problems(outdir: Path, stacks: list[str]) -> list[str]:
    """Local state files in stack folders this synthesis will not write.

    `cdktf synth` deletes such folders, and with them a bootstrap stack's local
    state (for example after an environment was renamed or dropped)."""
    return [
        f"{path} holds the local state of a stack this configuration no longer has, and `cdktf synth` "
        "would delete its folder: move that state into the bucket or out of the output folder first "
        "(README, Deploy from scratch)"
        for path in sorted(Path(outdir).glob(f"stacks/*/{LOCAL_STATE_FILE}"))
        if path.parent.name not in stacks
    ]
