"""Writes config/platform.schema.json, the JSON schema of the platform
configuration, generated from the model (field descriptions included), so
editors complete and check config/platform.yaml. The model stays the
authority: rules between fields (rules.py) are not in the schema.

    python -m platform_config.schema           regenerate the file
    python -m platform_config.schema --check   exit 1 when the file is stale
"""

from __future__ import annotations

import argparse
import json
import sys

from .loader import DEFAULT_CONFIG
from .model import Platform

SCHEMA_FILE = DEFAULT_CONFIG.with_name("platform.schema.json")
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_text() -> str:
    """The schema as committed: pretty, stable JSON ending in a newline."""
    schema = {"$schema": DIALECT, **Platform.model_json_schema()}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platform_config.schema", description="Regenerate the configuration's JSON schema.")
    parser.add_argument("--check", action="store_true", help="only compare: exit 1 when the file differs from the model")
    args = parser.parse_args(argv)
    text = schema_text()
    if not args.check:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        return 0
    current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.is_file() else None
    if current != text:
        where = SCHEMA_FILE.relative_to(DEFAULT_CONFIG.parent.parent)
        print(f"{where}: out of date with platform_config/model.py; run `make schema` and commit it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
