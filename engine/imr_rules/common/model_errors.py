"""Turn pydantic validation errors into located diagnostics with a hint (nearest valid name)."""

from __future__ import annotations

import difflib
import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError

from imr_rules.common.diagnostics import Diagnostic
from imr_rules.common.yaml_source import PathKey, SourceDocument, dotted


def _unwrap(annotation: Any) -> list[Any]:
    """All concrete classes an annotation may hold (through Optional, list, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    return [annotation]


def _model_at(root: type[BaseModel], loc: PathKey) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (its parent), if it can be found."""
    current: type[BaseModel] | None = root
    for part in loc[:-1]:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        models = [c for c in _unwrap(field.annotation) if isinstance(c, type) and issubclass(c, BaseModel)]
        current = models[0] if models else None
    return current


def _enum_at(root: type[BaseModel], loc: PathKey) -> list[str]:
    parent = _model_at(root, loc)
    name = loc[-1] if loc and not isinstance(loc[-1], int) else (loc[-2] if len(loc) > 1 else None)
    if parent is None or not isinstance(name, str) or name not in parent.model_fields:
        return []
    values: list[str] = []
    for cls in _unwrap(parent.model_fields[name].annotation):
        if isinstance(cls, type) and issubclass(cls, Enum):
            values.extend(str(member.value) for member in cls)
        elif typing.get_origin(cls) is typing.Literal:
            values.extend(str(v) for v in typing.get_args(cls))
    return values


def _nearest(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return match[0] if match else ""


def _clean_loc(loc: tuple[Any, ...], root: type[BaseModel] | None = None) -> PathKey:
    """Drop pydantic's union/validator tags from a location, keeping keys and list indexes.

    A part that names a field of the model there (a field called ``date``) is a key, not a tag.
    """
    kept: list[str | int] = []
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and (not _is_tag(part) or _is_field(root, (*kept, part)))):
            kept.append(part)
    return tuple(kept)


def _is_field(root: type[BaseModel] | None, loc: PathKey) -> bool:
    parent = _model_at(root, loc) if root is not None else None
    return parent is not None and loc[-1] in parent.model_fields


def _is_tag(part: str) -> bool:
    return part.startswith(("function-", "literal[", "nullable[", "json-or-python")) or part in (
        "list[...]", "date", "int", "str", "float", "bool", "enum")


def translate(error: ValidationError, document: SourceDocument, root: type[BaseModel],
              prefix: PathKey = ()) -> list[Diagnostic]:
    """Diagnostics for every problem in ``error``, located in ``document``.

    ``prefix`` is the key path at which ``root`` sits inside the document.
    """
    diagnostics: list[Diagnostic] = []
    seen: set[tuple[PathKey, str]] = set()
    for item in error.errors(include_url=False):
        loc = _clean_loc(tuple(item["loc"]), root)
        kind = item["type"]
        if (loc, kind) in seen:
            continue
        seen.add((loc, kind))
        full = (*prefix, *loc)
        field = dotted(full)
        hint = ""
        message = str(item["msg"])
        if kind == "extra_forbidden":
            parent = _model_at(root, loc)
            known = list(parent.model_fields) if parent else []
            guess = _nearest(str(loc[-1]), known)
            message = f"unknown field '{loc[-1]}'"
            if " " in str(loc[-1]) or not known:
                hint = "inside { } a comma ends the value: put text with commas in quotes"
            elif guess:
                hint = f"did you mean '{guess}'?"
            else:
                hint = f"known fields here: {', '.join(known)}"
        elif kind == "missing":
            message = "required field is missing"
            hint = f"add '{loc[-1]}:'"
        elif kind in ("enum", "literal_error"):
            choices = _enum_at(root, loc)
            given = item.get("input")
            guess = _nearest(str(given), choices) if choices else ""
            message = f"'{given}' is not a known value"
            if guess:
                hint = f"did you mean '{guess}'?"
            elif choices:
                hint = "one of: " + ", ".join(choices)
        elif kind == "model_type" and item.get("input") is None:
            parent = _model_at(root, (*loc, "_"))
            message = "has no value"
            hint = "expected fields: " + ", ".join(parent.model_fields) if parent else ""
        elif kind == "too_short":
            message = "is empty; at least one entry is needed"
            hint = "a case needs at least one requested item" if loc[-1:] == ("requested_items",) else ""
        elif kind.startswith(("date_", "datetime_")) and isinstance(item.get("input"), str):
            reason = message.split(", ", 1)[1] if ", " in message else message
            message = f"'{item['input']}' is not a valid date: {reason}"
            hint = "write the date as YYYY-MM-DD, with a month and day that exist in the calendar"
        elif kind.startswith(("int_", "float_", "date_", "string_", "bool_", "list_", "model_", "dict_")):
            hint = "check the type of this value"
        diagnostics.append(Diagnostic(document.name, document.line_of(full), field, message, hint))
    return diagnostics
