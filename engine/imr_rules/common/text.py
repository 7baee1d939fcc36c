"""Neutralise text from cases, letters and rule files before it reaches a terminal or a text report.

A description may hold a newline (which would start a fake line of the report), ANSI escape sequences
(which recolour or rewrite the terminal), BEL or NUL. ``printable`` turns line breaks and tabs into a
space and every other control or bidirectional-override character into a visible escape (``\\x1b``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

_LINE_BREAKS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

T = TypeVar("T")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` on one line with no control characters: breaks become a space, controls a visible escape."""
    return _CONTROL.sub(_escape, _LINE_BREAKS.sub(" ", text))


def terminal_text(text: str) -> str:
    """A multi-line report made safe for a terminal: its lines kept, every other control character escaped."""
    return "\n".join(_CONTROL.sub(_escape, line.replace("\t", " ")) for line in text.split("\n"))


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_text(text: str) -> str:
    """JSON written with ``ensure_ascii=False``, with the characters JSON leaves raw but a terminal or a
    JavaScript reader would act on (DEL, C1 controls, line separators, bidirectional overrides) written
    as ``\\uXXXX`` escapes. They can only occur inside strings, so the JSON means the same."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def printable_data(value: T) -> T:
    """A copy of ``value`` (dataclasses, lists, tuples, dicts, strings) with every string made ``printable``."""
    result: Any
    if isinstance(value, str):
        result = printable(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: printable_data(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        result = dataclasses.replace(value, **changes)
    elif isinstance(value, list):
        result = [printable_data(v) for v in value]
    elif isinstance(value, tuple):
        result = tuple(printable_data(v) for v in value)
    elif isinstance(value, dict):
        result = {printable_data(k): printable_data(v) for k, v in value.items()}
    else:
        result = value
    return result  # type: ignore[no-any-return]


TERMINAL_WIDTH = 100
"""Widest line a report is given at a terminal."""


def fit_width(text: str, width: int = TERMINAL_WIDTH) -> str:
    """Every line longer than ``width`` wrapped at spaces, continued under its own indentation plus four
    (a word longer than the width is split, so no line is longer)."""
    import textwrap

    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")))
        out += textwrap.wrap(" ".join(line.split()), width=width, initial_indent=indent,
                             subsequent_indent=indent + "    ", break_on_hyphens=False) or [""]
    return "\n".join(out)
