"""JSON Schemas of the outputs, generated from the result models (published in ``docs/schemas/``).

``evaluation``: the decision record (``evaluate --format json``, ``POST /evaluate``); ``explanation``:
``explain --format json`` (``POST /explain``); ``batch``: one line of ``evaluate -`` and
``POST /evaluate/batch`` (a result, a line's errors, or the trailer); ``regression``: ``regress --format json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter

from imr_rules.cases.model import Case
from imr_rules.engine.results import ItemResult
from imr_rules.regression.results_json import RegressionRecord
from imr_rules.review.explanation import ExplanationRecord

SCHEMA_BASE = "https://imr-rules.invalid/schemas/"
"""Base of the schemas' ``$id`` (a name, not a location: the files are in docs/schemas/)."""


@dataclass
class DecisionRecord:
    """The decision record: the result of every item, its record id and the normalized case."""

    schema_version: Literal[1]
    case_id: str
    request_date: str
    rule_base_version: str
    engine_version: str
    items: list[ItemResult]
    record_id: str
    case: Case


@dataclass
class LineError:
    """One problem of a batch line."""

    line: int
    field: str
    message: str
    hint: str


@dataclass
class BatchResult:
    """A batch line evaluated: its line number and decision record."""

    line: int
    ok: Literal[True]
    result: DecisionRecord


@dataclass
class BatchFailure:
    """A batch line that could not be evaluated, with every problem found."""

    line: int
    ok: Literal[False]
    errors: list[LineError]


@dataclass
class BatchTrailer:
    """The last line of a complete batch."""

    end_of_batch: Literal[True]
    answered: int
    ok: int
    failed: int


BatchLine = BatchResult | BatchFailure | BatchTrailer

MODELS: dict[str, tuple[Any, str]] = {
    "evaluation": (DecisionRecord, "imr-rules decision record (evaluate --format json)"),
    "explanation": (ExplanationRecord, "imr-rules explanation (explain --format json)"),
    "batch": (BatchLine, "one line of imr-rules batch output (evaluate -): a result, a line's errors, or the trailer"),
    "regression": (RegressionRecord, "imr-rules regression run (regress --format json)"),
}
OUTPUTS = tuple(MODELS)


def _closed(node: Any) -> None:
    """Every object with declared properties accepts no others (an output field is never silently added)."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _closed(value)
    elif isinstance(node, list):
        for value in node:
            _closed(value)


def output_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of output ``name`` (one of ``OUTPUTS``)."""
    model, title = MODELS[name]
    schema: dict[str, Any] = TypeAdapter(model).json_schema(mode="serialization")
    _closed(schema)
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{SCHEMA_BASE}{name}.schema.json",
            "title": title}
    return {**head, **{key: value for key, value in schema.items() if key not in head}}
