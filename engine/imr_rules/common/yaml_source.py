"""Read a YAML file safely and remember the line of every key, so errors can point at it.

Rejects: files that are empty, binary, not UTF-8, larger than ``MAX_BYTES``; malformed YAML;
duplicate keys; YAML features a case or rule never needs (anchors are allowed, custom tags are not).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imr_rules.common.diagnostics import Diagnostic, InputError, display_path

MAX_BYTES = 2_000_000
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


def _read_text(path: Path) -> str:
    if not path.exists():
        raise _fail(path, None, "file not found", "check the path")
    if path.is_dir():
        raise _fail(path, None, "is a directory, not a YAML file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise _fail(path, 1, f"file is {size:,} bytes; the limit is {MAX_BYTES:,}",
                    "a case or rule file is a few kilobytes; is this the right file?")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise _fail(path, 1, "file is binary, not YAML text", "give a .yaml text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, 1, f"file is not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from exc
    if not text.strip():
        raise _fail(path, 1, "file is empty", "a case needs at least claim, request_date and requested_items")
    return text


def _convert(node: yaml.Node, key_path: PathKey, lines: dict[PathKey, int], path: Path) -> Any:
    lines.setdefault(key_path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path)
            if key in result:
                first = lines.get((*key_path, key))
                raise _fail(path, key_node.start_mark.line + 1, f"duplicate key '{key}'",
                            f"first given on line {first}; keep one", _dotted((*key_path, key)))
            lines[(*key_path, key)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, (*key_path, key), lines, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*key_path, i), lines, path) for i, item in enumerate(node.value)]
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
    try:
        root = yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise _fail(path, line, f"malformed YAML: {exc.problem or exc.context}",
                    "check indentation and that every 'key: value' has a space after the colon") from exc
    except yaml.YAMLError as exc:
        raise _fail(path, None, f"malformed YAML: {exc}") from exc
    if root is None:
        raise _fail(path, 1, "file holds no YAML document", "")
    lines: dict[PathKey, int] = {}
    data = _convert(root, (), lines, path)
    return SourceDocument(path=path, data=data, lines=lines)
