"""Argument parsing for the tools: a bad argument is one line and exit 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse, but its errors are one `error:` line (argparse prints the
    usage first, over several lines)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}; see --help", file=sys.stderr)
        sys.exit(2)
