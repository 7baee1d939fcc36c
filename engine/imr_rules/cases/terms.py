"""Fields of the case format that take a vocabulary term, and the check of a parsed case against a vocabulary.

A field typed ``ServiceId`` (and the like) is a plain string to pydantic; which strings are allowed is data
(``rules/vocabulary/``). The marker in its JSON Schema (``x-vocabulary``) lets the reader check every such
field and lets ``imr-rules schema`` list the allowed values, so the two always agree.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from imr_rules.cases.vocabulary import Vocabulary

MARKER = "x-vocabulary"


def _term(kind: str, description: str) -> Any:
    return Field(min_length=1, max_length=64, description=description, json_schema_extra={MARKER: kind})


ServiceId = Annotated[str, _term("services", "A service from the services vocabulary.")]
RegionId = Annotated[str, _term("body_regions", "A body region from the body_regions vocabulary.")]
ProcedureId = Annotated[str, _term("procedures", "A procedure from the procedures vocabulary.")]
CategoryId = Annotated[str, _term("diagnosis_categories", "A diagnosis category from the vocabulary.")]
WorkStatusId = Annotated[str, _term("work_statuses", "A work status from the work_statuses vocabulary.")]
TestKindId = Annotated[str, _term("test_kinds", "A test kind from the test_kinds vocabulary (emg, ncs, ecg...).")]
UnitId = Annotated[str, _term("units", "A unit from the units vocabulary (tablets, g, ml, patches...).")]
FormulationId = Annotated[str, _term("formulations", "A formulation from the formulations vocabulary.")]
DeviceId = Annotated[str, _term("devices", "A kind of equipment from the devices vocabulary (lumbar_support...).")]
RouteId = Annotated[str, _term("routes", "A route of administration from the routes vocabulary.")]
NerveId = Annotated[str, _term("nerves", "A peripheral nerve from the nerves vocabulary.")]
ConceptId = Annotated[str, _term("concepts", "A clinical concept from the concepts vocabulary.")]


def _kind_of(info: FieldInfo | None, annotation: Any) -> str | None:
    extra = info.json_schema_extra if info is not None else None
    if isinstance(extra, dict) and isinstance(extra.get(MARKER), str):
        return str(extra[MARKER])
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, FieldInfo):
            found = _kind_of(meta, None)
            if found:
                return found
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _kind_of(None, arg)
            if found:
                return found
    return None


@functools.cache
def vocabulary_fields(model: type[BaseModel]) -> dict[str, str]:
    """The fields of ``model`` that take a term, with the vocabulary each one reads."""
    return {name: kind for name, info in model.model_fields.items()
            if (kind := _kind_of(info, info.annotation)) is not None}


def terms_used(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """Every (path, vocabulary kind, term) in a parsed case or part of one."""
    if isinstance(value, BaseModel):
        fields = vocabulary_fields(type(value))
        for name in type(value).model_fields:
            child = getattr(value, name)
            if name in fields:
                kind = fields[name]
                if isinstance(child, str):
                    yield (*path, name), kind, child
                elif isinstance(child, (list, tuple)):
                    yield from (((*path, name, i), kind, v) for i, v in enumerate(child) if isinstance(v, str))
            else:
                yield from terms_used(child, (*path, name))
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            yield from terms_used(child, (*path, index))


def unknown_terms(value: BaseModel, vocabulary: Vocabulary) -> list[tuple[tuple[str | int, ...], str, str]]:
    """The terms of a parsed case that its vocabulary does not know."""
    return [(path, kind, term) for path, kind, term in terms_used(value) if not vocabulary.has(kind, term)]


def schema_with_vocabulary(schema: dict[str, Any], vocabulary: Vocabulary) -> dict[str, Any]:
    """A JSON Schema whose vocabulary fields list the allowed terms (``enum``), in place and returned."""
    def visit(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get(MARKER)
            if isinstance(kind, str):
                node["enum"] = list(vocabulary.ids(kind))
                node.pop("minLength", None)
                node.pop("maxLength", None)
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)
    visit(schema)
    return schema
