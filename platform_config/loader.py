"""Reads and validates the platform configuration before any stack is built.

The file is read defensively: a regular file of at most MAX_CONFIG_BYTES, UTF-8,
YAML nested at most MAX_DEPTH levels and at most MAX_NODES values once aliases
are expanded (an alias bomb is small on disk and huge in memory), string keys
only, no duplicate keys. Every refusal is one line: `<file>: <where>: <what, and the fix>`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .echo import echo, echo_path
from .model import Platform
from .rules import Problem, cross_check

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "platform.yaml"
CONFIG_ENV_VAR = "PLATFORM_CONFIG"

# The default configuration is about 12 kB; these leave ample room.
MAX_CONFIG_BYTES = 1_000_000
MAX_DEPTH = 20
MAX_NODES = 100_000
# More problems than this are cut short: the first ones are the ones to fix.
MAX_PROBLEMS = 50

MERGE_TAG = "tag:yaml.org,2002:merge"


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded (depth, expanded size) and stricter (string
    keys, no duplicate keys). Merge keys (`<<: *defaults`) work as in YAML 1.1:
    keys written in the mapping itself win over merged ones."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        # The composer recurses once per level: stop long before Python's limit.
        self._depth += 1
        try:
            event = self.peek_event()
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels; flatten it", event.start_mark)
            # Explicit tags (!!set, !!binary, !!timestamp ...) reach PyYAML
            # constructors that crash on odd values, and no setting needs one.
            tag = getattr(event, "tag", None)
            if tag not in (None, "!", "tag:yaml.org,2002:str"):
                raise ComposerError(None, None, f"explicit tag {echo(tag)} is not supported; remove it (quote the value for a string)", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        node = super().compose_document()
        _check_expanded_size(node)
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as error:
            # e.g. an integer of more than 4,300 digits, or a date such as 2024-13-01.
            raise ConstructorError(None, None, f"cannot read {echo(node.value)}: {error}", node.start_mark) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(None, None, f"a key must be a string, not a {key_node.id}; write it as a plain name", key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise ConstructorError(
                    None, None, f"key {echo(key_node.value)} is read as {type(key).__name__} {echo(key)}; quote it to make it a string", key_node.start_mark
                )
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {echo(key)}; keep only one", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _check_expanded_size(root: Node | None) -> None:
    """Refuses a document whose aliases expand past MAX_NODES values or
    MAX_DEPTH levels, or refer to their own anchor. Iterative: the alias graph
    may be deep."""
    if root is None:
        return
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once expanded
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            sizes = [measured[id(child)] for child in _children(node)]
            count = 1 + sum(values for values, _ in sizes)
            depth = 1 + max((levels for _, levels in sizes), default=0)
            if count > MAX_NODES:
                raise ComposerError(
                    None, None, f"more than {MAX_NODES} values once aliases are expanded; write the values out or use fewer aliases", node.start_mark
                )
            if depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded; flatten it", node.start_mark)
            measured[id(node)] = (count, depth)
            open_nodes.discard(id(node))
            continue
        if id(node) in measured:
            continue
        if id(node) in open_nodes:
            raise ComposerError(None, None, "an alias refers to the value that contains it (a recursive structure); remove it", node.start_mark)
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in measured)


def config_path() -> Path:
    """The configuration file to use: $PLATFORM_CONFIG, else the embedded default."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG)


def load_platform(path: Path | None = None) -> Platform:
    path = Path(path or config_path())
    source = echo_path(path)
    text = read_config_text(path)
    try:
        raw = yaml.load(text, Loader=_SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        what = " ".join(part for part in (error.context, error.problem) if part)
        raise ConfigError([f"{source}: {where}: invalid YAML: {_one_line(what)}"]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{source}: (file): invalid YAML: {_one_line(str(error))}"]) from None
    return parse_platform(raw, source=source)


def read_config_text(path: Path) -> str:
    """The file's text; ConfigError unless it is a readable regular UTF-8 file of
    at most MAX_CONFIG_BYTES. Never blocks (a FIFO) and never reads without
    bound (/dev/zero)."""

    def refuse(message: str) -> ConfigError:
        return ConfigError([f"{echo_path(path)}: (file): {message}"])

    cannot_read = f"; set {CONFIG_ENV_VAR} to an existing configuration file"

    def check(info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise refuse(f"is not a regular file (a directory, device or pipe){cannot_read}")
        if info.st_size > MAX_CONFIG_BYTES:
            raise refuse(f"is {info.st_size} bytes, over the limit of {MAX_CONFIG_BYTES}; is it the right file?")

    try:
        check(os.stat(path))  # before opening: opening a device may already act on it
        # Non-blocking: should the path become a FIFO meanwhile, opening it would wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise refuse(f"cannot read configuration ({error.strerror}){cannot_read}") from None
    except ValueError as error:  # a NUL byte in the path
        raise refuse(f"cannot read configuration ({error}){cannot_read}") from None
    try:
        check(os.fstat(fd))  # the file actually opened
        data = b""
        while len(data) <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as error:
        raise refuse(f"cannot read configuration ({error.strerror}){cannot_read}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise refuse(f"grew past the limit of {MAX_CONFIG_BYTES} bytes while being read; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise refuse(f"is not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} (line {line}); save the file as UTF-8") from None


def parse_platform(raw: Any, source: str = "<config>") -> Platform:
    """Validates already-parsed data; raises ConfigError naming every problem.

    Field rules first; the relations between fields are checked only once
    every field is valid, so a problem is reported where it is, not where it
    shows (a bad service name, not the calls to it)."""
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: (top level): the top level must be a mapping of platform settings, not {echo(raw)}"])
    try:
        platform = Platform.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_lines(source, raw, [(tuple(e["loc"]), _message(e)) for e in error.errors()])) from None
    problems = cross_check(platform)
    if problems:
        raise ConfigError(_lines(source, raw, problems))
    return platform


def _lines(source: str, raw: Any, problems: list[Problem]) -> list[str]:
    lines = list(dict.fromkeys(_describe(source, raw, loc, message) for loc, message in problems))
    if len(lines) > MAX_PROBLEMS:
        hidden = len(lines) - MAX_PROBLEMS
        lines = lines[:MAX_PROBLEMS] + [f"{source}: (top level): {hidden} more problems not shown; fix the ones above first"]
    return lines


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or fix its spelling"
    if kind == "missing":
        return "required field is missing; add it"
    message = _one_line(error["msg"].removeprefix("Value error, "))
    if kind != "value_error":
        message = f"{message} (got {echo(error.get('input'))}); fix the value"
    return message


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 500 else text[:500] + "…"


def _describe(source: str, raw: Any, loc: tuple[str | int, ...], message: str) -> str:
    return f"{source}: {_field_path(raw, loc)}: {message}"


def _part(key: Any) -> str:
    """A key as written when it is a plain name, else quoted (one token: no
    bare '.', ':' or space) and shortened."""
    text = str(key)
    if text and len(text) <= 80 and all(c.isascii() and (c.isalnum() or c in "_-/") for c in text):
        return text
    return repr(text[:80]) + ("…" if len(text) > 80 else "")


def _field_path(raw: Any, loc: tuple[str | int, ...]) -> str:
    """`services[meals-service].port` rather than `services.3.port`."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list):
            item = node[key] if key < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            label = _part(name) if isinstance(name, str) and name else str(key)
            parts[-1:] = [f"{parts[-1] if parts else ''}[{label}]"]
        elif key == "[key]":
            continue
        else:
            parts.append(_part(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"
