"""Security gate: checkov over every synthesized stack, in one process.

    python tools/security_gate.py [cdktf.out] [--checkov PATH]

Exits non-zero on any failed check, any parsing error, or a stack on which no
check ran (unless every resource of it is of a type checkov has no check for,
NO_CHECKOV_CHECKS: the property tests cover those). checkov 3.3.30 cannot
parse a stack's top-level `import` list (it reports a parsing error, scans
nothing of that stack and still prints 0 failed), so the stacks are scanned as
copies without it and without `removed` blocks; both only adopt or forget
existing resources and carry no settings to check.
Skips live in .checkov.yaml only, each with its reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Collection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script (make security): tools.cli is in the project

from platform_config.naming import DEFAULT_OUTDIR  # noqa: E402
from tools.cli import InputError, OneLineParser, read_json  # noqa: E402

CONFIG_FILE = ROOT / ".checkov.yaml"
# Checks that guard the rules this project exists for; never skipped.
NEVER_SKIP = frozenset({"CKV_GCP_29", "CKV_GCP_78", "CKV_GCP_114", "CKV_GCP_118", "CKV_GCP_125"})
# Resource types checkov 3.3.30 runs no check on (what the CI-applied app
# stack holds); tests/test_app_stack.py states their rules instead.
NO_CHECKOV_CHECKS = frozenset({"google_cloud_run_v2_service", "google_cloud_run_v2_service_iam_member", "google_secret_manager_secret_version"})


def copy_without_imports(outdir: Path, scan_dir: Path) -> list[str]:
    """Copies every stack's cdk.tf.json minus `import` and `removed`; returns the stack names."""
    names = []
    for path in sorted(outdir.glob("stacks/*/cdk.tf.json")):
        stack = read_json(path)
        if not isinstance(stack, dict):
            raise InputError(f"{path} is not a cdktf stack (a JSON object)")
        stack.pop("import", None)
        stack.pop("removed", None)
        target = scan_dir / path.parent.name / "cdk.tf.json"
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(stack, indent=2))
        names.append(path.parent.name)
    return names


def nothing_to_check(outdir: Path) -> set[str]:
    """Stacks whose every resource is of a type checkov has no check for."""
    return {path.parent.name for path in outdir.glob("stacks/*/cdk.tf.json") if set(json.loads(path.read_text()).get("resource", {})) <= NO_CHECKOV_CHECKS}


def run_checkov(checkov: str, scan_dir: Path) -> dict:
    try:
        result = subprocess.run(
            [checkov, "-d", str(scan_dir), "--config-file", str(CONFIG_FILE), "--output", "json"],
            capture_output=True,
            text=True,
        )
    except OSError as error:
        raise InputError(f"cannot run checkov {checkov!r} ({error.strerror}); install it (make test does) or pass --checkov PATH") from None
    # checkov exits 1 when a check failed; anything it could not report is an error.
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"checkov produced no report (exit {result.returncode}):\n{result.stderr[-2000:]}") from None


def skipped_ids(config_text: str) -> set[str]:
    return {line.split("#")[0].strip(" -") for line in config_text.splitlines() if line.strip().startswith("- CKV_")}


def evaluate(report: dict, stacks: list[str], skipped: set[str], unchecked: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """(problems, summary lines) of a checkov JSON report."""
    if isinstance(report, list):  # checkov reports a list when nothing was scanned
        report = report[0] if report else {"results": {}, "summary": {}}
    results = report.get("results", {})
    problems = [f"skip of {check} is not allowed: .checkov.yaml must not skip it" for check in sorted(skipped & NEVER_SKIP)]
    problems += [f"checkov could not parse {path}: nothing of it was scanned" for path in results.get("parsing_errors", [])]
    for failure in results.get("failed_checks", []):
        problems.append(f"{failure['check_id']} failed on {failure['resource']} in {failure['file_path'].strip('/')}: {failure['check_name']}")
    ran = Counter(r["file_path"].strip("/").split("/")[0] for kind in ("passed_checks", "failed_checks") for r in results.get(kind, []))
    problems += [f"no check ran on stack {name}" for name in stacks if not ran[name] and name not in unchecked]
    summary = [f"{name}: {ran[name]} checks{' (checkov has none for its resource types)' if name in unchecked else ''}" for name in stacks]
    totals = report.get("summary", {})
    summary.append(
        f"checkov: {totals.get('passed', 0)} passed, {totals.get('failed', 0)} failed, "
        f"{totals.get('parsing_errors', 0)} parsing errors; not run (.checkov.yaml): {', '.join(sorted(skipped)) or 'none'}"
    )
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="tools/security_gate.py", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=DEFAULT_OUTDIR, type=Path)
    parser.add_argument("--checkov", default=shutil.which("checkov") or "checkov")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="security-gate-") as tmp:
            stacks = copy_without_imports(args.outdir, Path(tmp))
            if not stacks:
                raise InputError(f"no synthesized stack under {args.outdir}/stacks; run make synth")
            report = run_checkov(args.checkov, Path(tmp))
    except InputError as error:
        print(f"error: security gate: {error}", file=sys.stderr)
        return 2
    problems, summary = evaluate(report, stacks, skipped_ids(CONFIG_FILE.read_text()), nothing_to_check(args.outdir))
    print("\n".join(summary))
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
