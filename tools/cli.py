"""What the tools share: a bad argument or input file is one line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from platform_config import ConfigError, Platform, load_platform


class InputError(Exception):
    """Input a tool cannot use; one line for the user; exit `exit_code`."""

    exit_code = 2


def read_json(path: Path):
    """The JSON in `path`; InputError (one line) when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read {path} ({error.strerror})") from None
    except (ValueError, RecursionError) as error:  # bad JSON, not UTF-8, nested too deep
        raise InputError(f"{path} is not valid JSON: {' '.join(str(error).split())[:200]}") from None


def shorten(value: Any, limit: int = 80) -> str:
    """A value as JSON ("(absent)" for none), cut to `limit` characters with "…"."""
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cap_lines(text: str, limit: int, ending: Callable[[int], str]) -> str:
    """`text`, or its whole lines within `limit` characters followed by
    ending(number of lines left out)."""
    if len(text) <= limit:
        return text
    kept = text[:limit].rsplit("\n", 1)[0]
    return kept + ending(text.count("\n") - kept.count("\n"))


def configured_platform() -> Platform | None:
    """The configured platform, or None after printing each problem (the caller exits 2)."""
    try:
        return load_platform()
    except ConfigError as error:
        print("\n".join(f"error: {p}" for p in error.problems), file=sys.stderr)
        return None


class OneLineParser(argparse.ArgumentParser):
    """argparse, but its errors are one `error:` line (argparse prints the
    usage first, over several lines)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}; see --help", file=sys.stderr)
        sys.exit(2)


def run_tool(name: str, produce: Callable[[], list[str]]) -> int:
    """Prints the lines `produce` returns, exit 0; a configuration problem or
    an InputError is one `error:` line each, exit 2 (or the error's exit_code)."""
    # Here, not at the top: tools that run before any install import this module.
    from platform_config import ConfigError

    try:
        lines = produce()
    except ConfigError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except InputError as error:
        print(f"error: {name}: {error}", file=sys.stderr)
        return error.exit_code
    print("\n".join(lines))
    return 0
