"""Read a YAML file safely and remember the line of every key, so errors can point at it.

Rejects: files that are not regular files, empty, binary, not UTF-8, larger than ``MAX_BYTES`` (counted
on the bytes read); malformed YAML and control characters (with their line); duplicate keys; YAML features
a case or rule never needs (anchors are allowed, custom tags are not). Bounded: an alias that contains
itself is refused, nesting deeper than ``MAX_DEPTH`` is refused, and alias expansion stops at
``MAX_NODES`` values, so a small "billion laughs" file cannot grow into gigabytes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.common.inputs import read_limited

MAX_BYTES = 2_000_000
MAX_DEPTH = 100
"""Deepest nesting of lists and mappings accepted (a rule file needs about ten levels)."""
MAX_NODES = 200_000
"""Most values a document may hold once aliases are expanded (the whole shipped rule base holds about 7,000)."""
PathKey = tuple[str | int, ...]


@dataclass
class SourceDocument:
    """A parsed YAML document with the line number of each key path (1-based)."""

    path: Path
    data: Any
    lines: dict[PathKey, int]

    @functools.cached_property
    def name(self) -> str:
        """The file name as shown in diagnostics (computed once: rules read it for every element)."""
        return display_path(self.path)

    def line_of(self, key_path: PathKey) -> int | None:
        """The line of ``key_path``, or of its nearest ancestor that has one."""
        probe = tuple(key_path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), None)


def _fail(path: Path, line: int | None, message: str, hint: str = "", field: str = "(file)") -> InputError:
    return InputError([Diagnostic(display_path(path), line, field, message, hint)])


def decode_text(path: Path, raw: bytes) -> str:
    """``raw`` as UTF-8 text; ``InputError`` located at the line of the first bad byte, or for binary/empty."""
    if b"\x00" in raw:
        raise _fail(path, raw[:raw.index(b"\x00")].count(b"\n") + 1, "file is binary, not YAML text",
                    "give a .yaml text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, raw[:exc.start].count(b"\n") + 1, f"file is not UTF-8 text (byte {exc.start})",
                    "save the file as UTF-8") from exc
    if not text.strip():
        raise _fail(path, 1, "file is empty", "a case needs at least claim, request_date and requested_items")
    return text


def _read_text(path: Path) -> str:
    return decode_text(path, read_limited(path, MAX_BYTES, "YAML file"))


# Characters YAML 1.1 does not allow in a document (the complement of its printable set).
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _control_character(path: Path, text: str) -> InputError | None:
    found = _NOT_YAML.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return _fail(path, line, f"control character U+{ord(found.group()):04X} in column {column}",
                 "remove it: only tabs and line breaks may appear in a YAML file")


class _Budget:
    """Values converted so far, to stop alias expansion before it exhausts memory."""

    def __init__(self) -> None:
        self.nodes = 0


def _convert(node: yaml.Node, key_path: PathKey, lines: dict[PathKey, int], path: Path,
             budget: _Budget | None = None, open_nodes: frozenset[int] = frozenset()) -> Any:
    budget = budget or _Budget()
    budget.nodes += 1
    line = node.start_mark.line + 1
    if budget.nodes > MAX_NODES:
        raise _fail(path, line, f"more than {MAX_NODES:,} values once aliases are expanded",
                    "aliases (*name) copy what they refer to; a case or rule file never needs this many")
    if len(key_path) > MAX_DEPTH:
        raise _fail(path, line, f"nested more than {MAX_DEPTH} levels deep", "flatten the lists and mappings",
                    _dotted(key_path[:3]) + "...")
    if id(node) in open_nodes:
        raise _fail(path, line, "an alias refers to the list or mapping that contains it",
                    "a recursive alias never ends; copy the values instead", _dotted(key_path))
    lines.setdefault(key_path, line)
    if isinstance(node, yaml.MappingNode):
        inside = open_nodes | {id(node)}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path)
            if key in result:
                first = lines.get((*key_path, key))
                raise _fail(path, key_node.start_mark.line + 1, f"duplicate key '{key}'",
                            f"first given on line {first}; keep one", _dotted((*key_path, key)))
            lines[(*key_path, key)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, (*key_path, key), lines, path, budget, inside)
        return result
    if isinstance(node, yaml.SequenceNode):
        inside = open_nodes | {id(node)}
        return [_convert(item, (*key_path, i), lines, path, budget, inside) for i, item in enumerate(node.value)]
    return _scalar_value(node, path)


def _scalar(node: yaml.Node, path: Path) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _fail(path, node.start_mark.line + 1, "a key must be a plain name")
    value = _scalar_value(node, path)
    return str(value)


_CONSTRUCTOR = yaml.SafeLoader("")
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same nodes, 10x faster


_STR_TAG = "tag:yaml.org,2002:str"


def _scalar_value(node: yaml.Node, path: Path) -> Any:
    if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
        return node.value  # plain text needs no constructor
    try:
        return _CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise _fail(path, node.start_mark.line + 1, f"unsupported YAML value: {exc.problem}",
                    "use plain strings, numbers, dates, lists and mappings") from exc
    except (ValueError, OverflowError):
        # Looks like a date but is not one (2015-02-30, 0000-00-00): kept as written, so the field that
        # expects a date reports it with its line, and a text field keeps the text.
        return node.value
    finally:
        # the shared constructor remembers every node it built: forget this one, or a long run keeps them all
        _CONSTRUCTOR.constructed_objects.pop(node, None)


def _dotted(key_path: PathKey) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def dotted(key_path: PathKey) -> str:
    """Render a key path as ``a.b[0].c``."""
    return _dotted(key_path)


def load_yaml(path: Path) -> SourceDocument:
    """Parse one YAML file into plain Python data plus a key-path to line map.

    Raises ``InputError`` with a single located diagnostic on any problem.
    """
    text = _read_text(path)
    return parse_yaml(path, text)


def parse_yaml(path: Path, text: str) -> SourceDocument:
    """Parse YAML ``text`` (read from ``path``) into a ``SourceDocument``; ``InputError`` on any problem."""
    try:
        root = yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise _fail(path, line, f"malformed YAML: {exc.problem or exc.context}",
                    "check indentation and that every 'key: value' has a space after the colon") from exc
    except yaml.reader.ReaderError as exc:
        raise _control_character(path, text) or _fail(path, None, f"malformed YAML: {exc.reason}") from exc
    except yaml.YAMLError as exc:
        raise _fail(path, None, f"malformed YAML: {exc}") from exc
    except RecursionError:
        raise _fail(path, None, f"nested more than {MAX_DEPTH} levels deep", "flatten the lists and mappings") from None
    if root is None:
        raise _fail(path, 1, "file holds no YAML document", "")
    lines: dict[PathKey, int] = {}
    data = _convert(root, (), lines, path)
    return SourceDocument(path=path, data=data, lines=lines)
