"""Restricted templates: `{name}` placeholders and nothing else.

`str.format` would also run conversions (`{env!r}`), format specs
(`{env:>100000}`), attribute and index lookups (`{env.x}`, `{env[0]}`) taken
from the configuration; here a brace opens a placeholder whose whole content is
a name, and `{{` / `}}` stand for a literal brace. Validation checks every
template with `placeholders`, and stacks and tools render them with `render`,
so what validated is exactly what is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .echo import echo

# One token at a time: an escaped brace, a placeholder, or a brace that is neither.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


class TemplateError(ValueError):
    """A brace that does not belong to a `{name}` placeholder."""


def placeholders(template: str) -> set[str]:
    """The names of the `{name}` placeholders in `template`; TemplateError when
    a brace is not part of one."""
    names: set[str] = set()
    for token in _TOKEN.finditer(template):
        if token.group(1):
            names.add(token.group(1))
        elif token.group() in "{}":
            raise TemplateError(_bad_brace(template, token.start()))
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    """`template` with every `{name}` replaced by `values[name]`, in one pass
    (a value holding braces is not expanded again). Raises TemplateError on a
    bad brace and KeyError on a name without a value; validation has refused
    both before any stack is built."""
    placeholders(template)

    def replace(token: re.Match[str]) -> str:
        if token.group(1):
            return values[token.group(1)]
        return token.group()[0]

    return _TOKEN.sub(replace, template)


def _bad_brace(template: str, position: int) -> str:
    fragment = template[position : position + 20]
    return (
        f"{echo(fragment)} at character {position} is not a {{name}} placeholder; only {{name}} "
        "placeholders are allowed (no conversions, format specs or indexing); write {{ or }} for a literal brace"
    )
