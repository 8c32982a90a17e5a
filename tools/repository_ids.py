"""GitHub's numeric ids of the application and infrastructure repositories,
into the configuration (`github.app_repository_id`, `github.infra_repository_id`).

    python -m tools.repository_ids
        the `gh api repos/OWNER/REPO --jq .id` commands to run (GitHub is
        reached by the person who runs them, never by this project)
    python -m tools.repository_ids APP_ID INFRA_ID
        writes the two ids into the configuration file ($PLATFORM_CONFIG or
        config/platform.yaml), changing only those two lines, and checks that
        the file still validates (otherwise it is left as it was)
"""

from __future__ import annotations

import re
import sys

from platform_config import ConfigError, load_platform
from platform_config.echo import echo, echo_path
from platform_config.loader import config_path
from platform_config.model import MAX_GITHUB_ID
from tools.cli import InputError, run_tool

FIELDS = ("app_repository_id", "infra_repository_id")


def commands() -> list[str]:
    github = load_platform().github
    return [
        "# Run these where gh is logged in with read access to both repositories:",
        f"gh api repos/{github.app_repository} --jq .id",
        f"gh api repos/{github.infra_repository} --jq .id",
        "# then write the two numbers into the configuration:",
        "make repository-ids APP_ID=<the first> INFRA_ID=<the second>",
    ]


def _id(field: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,19}", text) or not 1 <= int(text) <= MAX_GITHUB_ID:
        raise InputError(f"{field} {echo(text)} is not a GitHub repository id; use the number `gh api repos/OWNER/REPO --jq .id` prints")
    return int(text)


def write(app_id: str, infra_id: str) -> list[str]:
    ids = {field: _id(field, text) for field, text in zip(FIELDS, (app_id, infra_id), strict=True)}
    path = config_path()
    try:
        original = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {echo_path(path)} ({error})") from None
    text = original
    for field, value in ids.items():
        # The key's own line under github:, its comment kept.
        text, count = re.subn(rf"^([ \t]+{field}:)[ \t]*[^#\n]*?([ \t]*(#.*)?)$", rf"\g<1> {value}\g<2>", text, flags=re.M)
        if count != 1:
            raise InputError(f"{echo_path(path)} has {count} lines `{field}:`, not one under github:; set it by hand")
    path.write_text(text, encoding="utf-8")
    try:
        load_platform(path)
    except ConfigError:
        path.write_text(original, encoding="utf-8")
        raise
    return [f"{echo_path(path)}: github.{field}: {value}" for field, value in ids.items()]


def main(argv: list[str]) -> int:
    if argv in (["--help"], ["-h"]):
        print(__doc__)
        return 0

    def produce() -> list[str]:
        if not argv:
            return commands()
        if len(argv) == 2:
            return write(*argv)
        raise InputError("usage: python -m tools.repository_ids [APP_ID INFRA_ID]; see --help")

    return run_tool("repository_ids", produce)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
