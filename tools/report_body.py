"""The body of a pull-request comment or an issue, from report files, kept
below GitHub's limit of 65,536 characters: when the reports are longer, the
body is cut at a line and ends with a link to the full report (the run's job
summaries and artifacts).

    python -m tools.report_body LINK [--marker TEXT] [--footer TEXT] FILE...

Standard library only: it runs with the runner's Python, before any install.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tools.cli import OneLineParser

# GitHub refuses a comment or issue body over 65,536 characters; JavaScript
# (github-script) and GitHub count UTF-16 code units, so this does too, and
# stays below with room for what GitHub adds.
GITHUB_BODY_LIMIT = 65_536
MAX_BODY_UNITS = 65_000


def units(text: str) -> int:
    """The length GitHub and JavaScript see: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def capped(parts: list[str], link: str, *, marker: str = "", footer: str = "") -> str:
    """`marker`, the parts and `footer` joined by blank lines; when longer than
    MAX_BODY_UNITS, the parts are cut at a line boundary and a note with
    `link` takes the rest's place (marker and footer always stay)."""
    head = [marker] if marker else []
    tail = [footer] if footer else []
    body = "\n\n".join([*head, *parts, *tail])
    if units(body) <= MAX_BODY_UNITS:
        return body
    note = f"**Cut here: the report is {units(body):,} characters, over GitHub's {GITHUB_BODY_LIMIT:,}.** The full report: {link}"
    room = MAX_BODY_UNITS - units("\n\n".join([*head, "", note, *tail]))
    kept: list[str] = []
    used = 0
    for line in "\n\n".join(parts).splitlines(keepends=True):
        if used + units(line) > room:
            break
        kept.append(line)
        used += units(line)
    return "\n\n".join([*head, "".join(kept).rstrip("\n"), note, *tail])


def main(argv: list[str]) -> int:
    parser = OneLineParser(prog="report_body", description=__doc__.split("\n\n")[0])
    parser.add_argument("link", help="where the full report is (the run's page)")
    parser.add_argument("files", nargs="+", type=Path, help="report files, in order")
    parser.add_argument("--marker", default="", help="first line, kept (e.g. a hidden marker)")
    parser.add_argument("--footer", default="", help="last lines, kept")
    args = parser.parse_args(argv)
    parts = []
    for path in args.files:
        try:
            parts.append(path.read_text(encoding="utf-8").replace(args.marker, "") if args.marker else path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            print(f"error: report_body: cannot read {path} ({error})", file=sys.stderr)
            return 2
    sys.stdout.write(capped(parts, args.link, marker=args.marker, footer=args.footer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
