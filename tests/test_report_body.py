"""Comment and issue bodies stay below GitHub's 65,536 characters, cut at a
line with a link to the full report (tools/report_body.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.report_body import capped

from .conftest import ROOT

# GitHub's limit of an issue or comment body, in the characters JavaScript counts (UTF-16 code units).
GITHUB_LIMIT = 65_536
LINK = "https://github.com/Peleke/mindmirror-infra/actions/runs/42"
MARKER = "<!-- cdktf-synth-diff -->"


def utf16_length(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def report(lines: int, line: str = "| google_cloud_run_v2_service.gateway | update | image |") -> str:
    return "\n".join(f"{n:06} {line}" for n in range(lines))


def test_short_reports_are_joined_whole():
    parts = ["### synth diff\nno changes", "### plan\n1 to change"]
    assert capped(parts, LINK, marker=MARKER) == f"{MARKER}\n\n### synth diff\nno changes\n\n### plan\n1 to change"


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([report(60_000 // 60), report(2_000), report(2_000)], id="synth diff at its own cap plus two plans"),
        pytest.param([report(5_000, "🚨 destroy " * 8)], id="emoji count twice"),
        pytest.param(["x" * 200_000], id="one line longer than the limit"),
        pytest.param([report(1_090)], id="just over"),
    ],
)
def test_long_reports_are_cut_below_githubs_limit_with_a_link(parts):
    footer = "Run: " + LINK
    body = capped(parts, LINK, marker=MARKER, footer=footer)
    assert utf16_length(body) < GITHUB_LIMIT
    assert body.startswith(MARKER + "\n\n") and body.endswith("\n\n" + footer)
    assert f"The full report: {LINK}" in body
    kept = body.removeprefix(MARKER + "\n\n").split("\n\n**Cut here")[0]
    whole = "\n\n".join(parts)
    assert whole.startswith(kept) and (kept == "" or whole[len(kept)] == "\n"), "cut at a line boundary"


def test_a_report_below_the_cap_is_not_cut():
    body = capped([report(1_000)], LINK)
    assert "Cut here" not in body and utf16_length(body) < GITHUB_LIMIT


def test_command_line_reads_files_in_order_and_drops_the_marker_inside(tmp_path):
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    first.write_text(f"{MARKER}\nsynth diff")
    second.write_text("plan")
    result = subprocess.run(
        [sys.executable, "-m", "tools.report_body", LINK, "--marker", MARKER, str(first), str(second)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout == f"{MARKER}\n\n\nsynth diff\n\nplan"
    missing = subprocess.run([sys.executable, "-m", "tools.report_body", LINK, str(tmp_path / "nope.md")], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot read" in missing.stderr
