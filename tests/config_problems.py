"""Helpers of the configuration tests: the problem lines of a configuration
that does not validate, and the one line about a field."""

from __future__ import annotations

import pytest

from platform_config import ConfigError, parse_platform

SOURCE = "platform.yaml"


def problems(config, source: str = SOURCE) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_platform(config, source=source)
    return caught.value.problems


def service(config: dict, name: str) -> dict:
    return next(s for s in config["services"] if s["name"] == name)


def only(lines: list[str], where: str, *words: str) -> str:
    """The one line about `where`; it carries every word."""
    matching = [line for line in lines if line.startswith(f"{SOURCE}: {where}: ")]
    assert len(matching) == 1, f"expected one problem at {where}, got {lines}"
    for word in words:
        assert word in matching[0], f"{word!r} missing from {matching[0]!r}"
    return matching[0]
