"""`make bench`: whole-process timings of every way to synthesize, side by
side in one run, written to bench/RESULTS.md.

Wall time is measured around each process; peak memory is the largest
resident set of the process or any descendant it waited for (wait4's
ru_maxrss), which is the jsii node process in every case here. Commands run
in rounds (A B C D, A B C D, ...) after one warm-up round, so a drift of the
machine's speed hits all of them alike; ratios are taken round by round.
The load average before and after is reported: other work on the machine
shows up as a wide spread of the per-round ratios.
The benchmark is never part of `make test`: no test fails on a clock.
"""

from __future__ import annotations

import copy
import json
import os
import platform as host
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _runs(variable: str, default: int) -> int:
    """A positive count from the environment; one line and exit 2 otherwise."""
    value = os.environ.get(variable, str(default))
    if not value.isdigit() or int(value) < 1:
        print(f"error: bench: {variable}={value[:40]!r} is not a positive whole number; e.g. {variable}={default}", file=sys.stderr)
        sys.exit(2)
    return int(value)


RUNS = _runs("BENCH_RUNS", 5)
PHASE_RUNS = _runs("BENCH_PHASE_RUNS", 3)
SCALING_SIZES = (10, 50, 200)
TEST_BUDGET_S = 90
SLOWEST = 8
PY = str(ROOT / ".venv" / "bin" / "python")
ENV = {
    **os.environ,
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CHECKPOINT_DISABLE": "1",
    "PIPENV_VENV_IN_PROJECT": "1",
    "PATH": f"{ROOT / '.tools' / 'pipenv' / 'bin'}:{os.environ['PATH']}",
}


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak MB) of one run; fails loudly if the command fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    assert process.stderr is not None  # stderr=PIPE
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} | {min(values):.{digits}f} | {max(values):.{digits}f}"


def machine_line() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), host.processor())
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB; Linux {host.release()}; Python {host.python_version()}; Node {node}"


def side_by_side(outdir: Path) -> tuple[list[str], dict[str, list[tuple[float, float]]]]:
    commands = {
        "`make synth`": ["make", "-s", "synth"],
        "app run directly (`python main.py`)": [PY, "main.py"],
        "`npx cdktf synth`": ["npx", "cdktf", "synth", "--output", str(outdir / "cli")],
        "naive one-bucket app (`bench/naive_one_bucket.py`)": [PY, "bench/naive_one_bucket.py", str(outdir / "naive")],
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for round_number in range(RUNS + 1):
        for name, command in commands.items():
            sample = measure(command)
            if round_number:  # round 0 warms caches up
                results[name].append(sample)
    rows = ["| command | wall s, median | min | max | peak MB, median | min | max |", "|---|---|---|---|---|---|---|"]
    for name, samples in results.items():
        rows.append(f"| {name} | {spread([w for w, _ in samples])} | {spread([m for _, m in samples], 0)} |")
    return rows, results


def ratio_rows(results: dict[str, list[tuple[float, float]]]) -> list[str]:
    naive = [w for w, _ in results["naive one-bucket app (`bench/naive_one_bucket.py`)"]]
    rows = [f"| ratio, round by round ({len(naive)} rounds) | median | min | max |", "|---|---|---|---|"]
    for name in ("`make synth`", "app run directly (`python main.py`)", "`npx cdktf synth`"):
        ratios = [w / n for (w, _), n in zip(results[name], naive, strict=False)]
        rows.append(f"| {name} / naive | {spread(ratios)} |")
    return rows


def make_overhead_line() -> str:
    """make's own share of `make synth`: the same recipe with `true` for the
    interpreter (make, the prerequisite check, the shells, the closing `ls`)."""
    samples = [measure(["make", "-s", "synth", "PY=true"])[0] * 1000 for _ in range(RUNS)]
    return f"make's own share of `make synth` (`make -s synth PY=true`, {RUNS} runs): median {statistics.median(samples):.0f} ms, min {min(samples):.0f}, max {max(samples):.0f}; pipenv does not run when `.venv` is in sync."


PHASES = {
    "interpreter": "interpreter start-up",
    "configuration": "configuration (load and validate)",
    "cdktf": "jsii's node process + cdktf/constructs assemblies",
    "provider_assembly_load": "provider jsii assembly load",
    "provider_import": "provider Python import",
    "construction": "construction (every stack)",
    "synth": "synth (writing JSON)",
    "exit": "exit (interpreter teardown)",
}


def phase_rows(outdir: Path) -> list[str]:
    rows = ["| phase | with shortcuts (`main.py`), s | full import, GC on, s |", "|---|---|---|"]
    durations: dict[str, dict[str, list[float]]] = {}
    for mode in ("shortcuts", "full"):
        durations[mode] = {key: [] for key in PHASES}
        for _ in range(PHASE_RUNS):
            previous = time.time()  # wall clock, as phases.py reports it
            result = subprocess.run(
                [PY, "bench/phases.py", str(outdir / f"phases-{mode}"), mode], cwd=ROOT, env=ENV, capture_output=True, text=True, check=True
            )
            end = time.time()
            marks = json.loads(result.stdout)
            for key in PHASES:
                mark = marks.get(key, end)
                durations[mode][key].append(mark - previous)
                previous = mark
    for key, label in PHASES.items():
        rows.append(f"| {label} | {statistics.median(durations['shortcuts'][key]):.2f} | {statistics.median(durations['full'][key]):.2f} |")
    totals = {mode: statistics.median(map(sum, zip(*durations[mode].values(), strict=False))) for mode in durations}
    rows.append(f"| **total** | **{totals['shortcuts']:.2f}** | **{totals['full']:.2f}** |")
    return rows


def generated_config(size: int) -> dict:
    """The default platform grown to `size` services by copies of meals-service."""
    config = yaml.safe_load((ROOT / "config" / "platform.yaml").read_text())
    template = next(s for s in config["services"] if s["name"] == "meals-service")
    for index in range(size - len(config["services"])):
        service = copy.deepcopy(template)
        service.update(name=f"generated-{index:03d}", image=f"generated_{index:03d}", url_name=f"GENERATED_{index:03d}_URL")
        config["services"].append(service)
    return config


def scaling_rows(outdir: Path) -> list[str]:
    rows = ["| services | resources (all stacks) | wall s, median | min | max | peak MB, median |", "|---|---|---|---|---|---|"]
    medians = {}
    for size in SCALING_SIZES:
        path = outdir / f"platform-{size}.yaml"
        path.write_text(yaml.safe_dump(generated_config(size)))
        env = {**ENV, "PLATFORM_CONFIG": str(path), "CDKTF_OUTDIR": str(outdir / f"scaling-{size}")}
        samples = [measure([PY, "main.py"], env) for _ in range(PHASE_RUNS)]
        resources = sum(
            len(items)
            for stack in (outdir / f"scaling-{size}" / "stacks").glob("*/cdk.tf.json")
            for items in json.loads(stack.read_text()).get("resource", {}).values()
        )
        medians[size] = statistics.median(w for w, _ in samples)
        rows.append(f"| {size} | {resources} | {spread([w for w, _ in samples])} | {statistics.median(m for _, m in samples):.0f} |")
    marginal = (medians[SCALING_SIZES[-1]] - medians[SCALING_SIZES[0]]) / (SCALING_SIZES[-1] - SCALING_SIZES[0]) * 1000
    rows.append("")
    rows.append(f"Marginal cost: {marginal:.1f} ms per service ({SCALING_SIZES[0]} → {SCALING_SIZES[-1]} services, both environments).")
    return rows


DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (setup|call|teardown) +(.+)$")


def test_rows() -> list[str]:
    """`make test` with pytest's per-test durations: the wall time against
    the budget, the slowest files (setup + call + teardown of their tests)
    and the slowest single steps (a setup's time is its fixtures')."""
    start = time.perf_counter()
    result = subprocess.run(["make", "-s", "test", "PYTEST_ARGS=--durations=0"], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"make test failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    steps = [(float(m[1]), m[2], m[3]) for m in map(DURATION.match, result.stdout.splitlines()) if m]
    per_file: dict[str, float] = {}
    for seconds, _, nodeid in steps:
        per_file[nodeid.split("::")[0]] = per_file.get(nodeid.split("::")[0], 0.0) + seconds
    summary = next((line.strip("= ") for line in reversed(result.stdout.splitlines()) if " in " in line and ("passed" in line or "failed" in line)), "")
    rows = [
        f"`make test` (everything installed): {wall:.1f} s wall, budget {TEST_BUDGET_S} s; pytest: {summary}.",
        "Test files run on one worker per core (pytest-xdist), so the times below add up to more than the wall time.",
        "",
        "| slowest test files | s (setup + call + teardown) |",
        "|---|---|",
        *(f"| `{path}` | {seconds:.1f} |" for path, seconds in sorted(per_file.items(), key=lambda item: -item[1])[:SLOWEST]),
        "",
        "| slowest steps (a setup is its fixtures) | step | s |",
        "|---|---|---|",
        *(f"| `{nodeid}` | {step} | {seconds:.1f} |" for seconds, step, nodeid in sorted(steps, reverse=True)[:SLOWEST]),
    ]
    return rows


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


# Figures of targets too slow for make bench (the engine's cold build, the
# mutation gate, the test matrix), measured by hand: kept across rewrites.
KEPT_HEADING = "## Measured separately (not by make bench)"


def kept_section(results: Path) -> str:
    previous = results.read_text() if results.is_file() else ""
    return "\n" + previous[previous.index(KEPT_HEADING) :] if KEPT_HEADING in previous else ""


def main() -> int:
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        outdir = Path(tmp)
        print("side by side...", file=sys.stderr)
        table, results = side_by_side(outdir)
        overhead = make_overhead_line()
        print("phases...", file=sys.stderr)
        phases = phase_rows(outdir)
        print("scaling...", file=sys.stderr)
        scaling = scaling_rows(outdir)
    print("make test...", file=sys.stderr)
    tests = test_rows()
    load_after = load_average()
    lines = [
        "# Synthesis benchmark",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d')}. Machine: {machine_line()}.",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after} (work besides the benchmark widens the spread).",
        "",
        f"## Every way to synthesize, side by side ({RUNS} rounds after one warm-up round)",
        "",
        *table,
        "",
        *ratio_rows(results),
        "",
        overhead,
        "",
        "`make synth` and `python main.py` synthesize all four default stacks; the naive",
        "app (default `App`, plain import of the provider package) synthesizes one bucket.",
        "`npx cdktf synth` runs `main.py` through pipenv. Every run reuses jsii's package",
        "cache (filled by the warm-up round), as every run after a machine's first does.",
        "",
        f"## Where the time goes (median of {PHASE_RUNS})",
        "",
        *phases,
        "",
        "The shortcuts: only the used provider submodules, in Python and in jsii's node",
        "process; no garbage collector; no interpreter teardown after success",
        "(`synth/provider_bindings.py`).",
        "",
        "## Scaling with the number of services",
        "",
        *scaling,
        "",
        "## Test suite",
        "",
        *tests,
        "",
    ]
    results_file = ROOT / "bench" / "RESULTS.md"
    report = "\n".join(lines) + kept_section(results_file)
    results_file.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
