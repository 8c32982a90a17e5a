"""make mutate: every safety mutant of mutation/mutants.yaml applied alone in
a scratch copy of the project, judged by the non-snapshot tests it can reach
(and nothing chosen to kill it): one row per mutant, `killed by <test>` or
SURVIVED. Exit 1 on any survivor, or on a mutant whose line is no longer in
its file exactly once (the code moved: update the list); 0 otherwise.

    python -m mutation [MUTANT_ID ...] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = Path(__file__).with_name("mutants.yaml")
# What the copy shares with the project instead of copying (installed tools).
SHARED = (".venv", "node_modules", ".tools", ".engine")
# Snapshots judge nothing here: their routine answer is --snapshot-update.
SNAPSHOT_TESTS = "tests/test_snapshots.py"
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    breaks: str
    reach: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    outcome: str  # "killed", "SURVIVED", "NO LONGER APPLIES"
    detail: str
    seconds: float

    @property
    def failed(self) -> bool:
        return self.outcome != "killed"


def load(path: Path = MUTANTS) -> list[Mutant]:
    data = yaml.safe_load(path.read_text())
    groups: dict[str, list[str]] = data["reach"]
    return [Mutant(id=m["id"], file=m["file"], old=m["old"], new=m["new"], breaks=m["breaks"], reach=tuple(groups[m["reach"]])) for m in data["mutants"]]


def applies(mutant: Mutant, root: Path = ROOT) -> bool:
    """The mutated text is in its file exactly once."""
    path = root / mutant.file
    return path.is_file() and path.read_text().count(mutant.old) == 1


def scratch_copy(destination: Path) -> None:
    """The project's tracked files (as they are in the work tree), with its installed tools linked."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in SHARED:
        if (ROOT / name).exists():
            (destination / name).symlink_to(ROOT / name)


def first_failure(output: str) -> str:
    match = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    return match.group(1) if match else output.strip().splitlines()[-1] if output.strip() else "no output"


def judge(mutant: Mutant) -> Verdict:
    started = time.monotonic()
    if not applies(mutant):
        return Verdict(mutant, "NO LONGER APPLIES", f"{mutant.file} does not hold the line once", 0.0)
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.id}-") as directory:
        copy = Path(directory)
        scratch_copy(copy)
        path = copy / mutant.file
        path.write_text(path.read_text().replace(mutant.old, mutant.new))
        command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-x", "-q", "-p", "no:xdist", f"--ignore={SNAPSHOT_TESTS}", *mutant.reach]
        env = {**os.environ, "TOFU": str(ROOT / ".engine" / "bin" / "tofu"), "CDKTF_OUTDIR": str(copy / "cdktf.out")}
        try:
            result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return Verdict(mutant, "killed", f"timeout after {TIMEOUT_SECONDS} s", time.monotonic() - started)
    seconds = time.monotonic() - started
    if result.returncode == 0:
        return Verdict(mutant, "SURVIVED", f"{len(mutant.reach)} test paths passed", seconds)
    return Verdict(mutant, "killed", f"by {first_failure(result.stdout + result.stderr)}", seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="only these mutants")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    mutants = [m for m in load() if not args.ids or m.id in args.ids]
    started = time.monotonic()
    failed = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for verdict in pool.map(judge, mutants):
            failed += verdict.failed
            print(f"{verdict.mutant.id:<40} {verdict.outcome} {verdict.detail} ({verdict.seconds:.0f} s)", flush=True)
    print(f"mutate: {len(mutants) - failed} of {len(mutants)} mutants killed in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
