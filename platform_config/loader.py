"""Reads and validates the platform configuration before any stack is built."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .model import Platform, Problem, cross_check

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "platform.yaml"
CONFIG_ENV_VAR = "PLATFORM_CONFIG"


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node, deep=False):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}; keep only one", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def config_path() -> Path:
    """The configuration file to use: $PLATFORM_CONFIG, else the embedded default."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG)


def load_platform(path: Path | None = None) -> Platform:
    path = Path(path or config_path())
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except OSError as error:
        raise ConfigError([f"{path}: cannot read configuration ({error.strerror}); set {CONFIG_ENV_VAR} to an existing file"]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{path}: invalid YAML: {' '.join(str(error).split())}"]) from None
    return parse_platform(raw, source=str(path))


def parse_platform(raw: Any, source: str = "<config>") -> Platform:
    """Validates already-parsed data; raises ConfigError naming every problem."""
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of platform settings"])
    try:
        platform = Platform.model_validate(raw)
    except ValidationError as error:
        raise ConfigError([_describe(source, raw, tuple(e["loc"]), _message(e)) for e in error.errors()]) from None
    problems = cross_check(platform)
    if problems:
        raise ConfigError([_describe(source, raw, loc, message) for loc, message in problems])
    return platform


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or fix its spelling"
    if kind == "missing":
        return "required field is missing; add it"
    message = error["msg"].removeprefix("Value error, ")
    if kind != "value_error":
        message = f"{message} (got {error.get('input')!r}); fix the value"
    return message


def _describe(source: str, raw: Any, loc: tuple[str | int, ...], message: str) -> str:
    return f"{source}: {_field_path(raw, loc)}: {message}"


def _field_path(raw: Any, loc: tuple[str | int, ...]) -> str:
    """`services[meals-service].port` rather than `services.3.port`."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            name = node[key].get("name") if isinstance(node, list) and key < len(node) and isinstance(node[key], dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{name or key}]"]
        elif key.endswith("[key]"):
            continue
        else:
            parts.append(str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"
