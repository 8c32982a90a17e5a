"""Values quoted back in error messages, kept short: a configuration may hold
megabytes in one value (or an alias bomb), and an error line must stay a line."""

from __future__ import annotations

import reprlib
from typing import Any

MAX_ECHO_CHARS = 80


class _ShortRepr(reprlib.Repr):
    def repr_int(self, value: int, level: int) -> str:
        # repr() of an integer over 4,300 digits raises ValueError.
        return f"<an integer of {value.bit_length()} bits>" if value.bit_length() > 256 else repr(value)


_REPR = _ShortRepr()
_REPR.maxlevel = 3
_REPR.maxstring = MAX_ECHO_CHARS
_REPR.maxother = MAX_ECHO_CHARS
for _attribute in ("maxlist", "maxdict", "maxtuple", "maxset", "maxfrozenset"):
    setattr(_REPR, _attribute, 4)


def echo(value: Any) -> str:
    """`repr(value)`, or for a long string its first 80 characters and its length.
    Always one line (repr escapes newlines)."""
    if isinstance(value, str) and len(value) > MAX_ECHO_CHARS:
        return f"{value[:MAX_ECHO_CHARS]!r}… ({len(value)} characters)"
    text = _REPR.repr(value)
    return text if len(text) <= 2 * MAX_ECHO_CHARS else text[: 2 * MAX_ECHO_CHARS] + "…"


# A path is quoted back as written when it is plain: short, printable, no
# spaces, quotes or backslashes (e.g. /work/config/platform.yaml).
MAX_PLAIN_PATH_CHARS = 200


def echo_path(path: Any) -> str:
    """A file path in an error line: as written when plain, else quoted like
    any other value (shortened, escaped: a newline in it stays on the line)."""
    text = str(path)
    plain = len(text) <= MAX_PLAIN_PATH_CHARS and text.isprintable() and not set(text) & set(" '\"\\")
    return text if plain and text else echo(text)
