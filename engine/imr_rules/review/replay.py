"""Replay a decision record: check the whole record against a fresh evaluation of the case it embeds.

A record is reproduced only when everything in it is what the engine gives today: the record id (both
as recomputed from the record's own case and versions, and from the new evaluation), the rule base and
engine versions, the set and order of item ids, and every field of every item. Anything else is listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imr_rules.cases.model import Case
from imr_rules.cases.reader import case_from_document
from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.common.inputs import read_limited, too_deep
from imr_rules.common.text import printable
from imr_rules.common.yaml_source import MAX_DEPTH, SourceDocument
from imr_rules.engine.evaluator import Evaluator
from imr_rules.review.determination import decision_record, record_id

MAX_RECORD_BYTES = 64_000_000
"""Largest decision record read (a record of a thousand items with their traces is a few megabytes)."""
_SHOWN = 160
_HINT = "give the JSON of evaluate --format json"
_REQUIRED = {"schema_version": int, "case_id": str, "rule_base_version": str, "engine_version": str,
             "items": list, "record_id": str, "case": dict}


def _problem(path: Path, message: str, hint: str = "", field: str = "(file)") -> InputError:
    return InputError([Diagnostic(display_path(path), 1, field, message, hint)])


def read_record(path: Path) -> tuple[dict[str, Any], Case]:
    """The record in ``path`` and the case it embeds; ``InputError`` if it is not a decision record."""
    raw = read_limited(path, MAX_RECORD_BYTES, "decision record")
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _problem(path, f"not UTF-8 text (byte {exc.start})", _HINT) from None
    except json.JSONDecodeError as exc:
        raise InputError([Diagnostic(display_path(path), exc.lineno, "(file)", f"not valid JSON: {exc.msg}",
                                     _HINT)]) from None
    except RecursionError:
        raise _problem(path, f"nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(record, dict):
        raise _problem(path, "not a decision record: the file holds no JSON object",
                       _HINT)
    problems = [Diagnostic(display_path(path), 1, key, f"{'missing' if key not in record else 'wrong type'}: "
                           f"a decision record has '{key}' ({kind.__name__})", _HINT)
                for key, kind in _REQUIRED.items() if not isinstance(record.get(key), kind)]
    if problems:
        raise InputError(problems)
    if too_deep(record, MAX_DEPTH):
        raise _problem(path, f"nested more than {MAX_DEPTH} levels deep")
    document = SourceDocument(path=path, data=record["case"], lines={(): 1})
    return record, case_from_document(document)


def _shown(value: Any) -> str:
    text = printable(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _item_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    label = printable(str(new.get("item_id")))
    fields = list(new) + [key for key in old if key not in new]
    return [f"item {label}: {printable(str(field))} {_shown(old.get(field))} -> {_shown(new.get(field))}"
            for field in fields if old.get(field) != new.get(field)]


def differences(record: dict[str, Any], case: Case, evaluator: Evaluator) -> tuple[dict[str, Any], list[str]]:
    """The fresh record of the embedded case, and every way the given record differs from it (empty: reproduced)."""
    again = decision_record(case, evaluator.evaluate(case))
    found: list[str] = []
    claimed = record_id(case, str(record["rule_base_version"]), str(record["engine_version"]))
    if record["record_id"] != claimed:
        found.append(f"record_id {_shown(record['record_id'])} does not match the record's own case and versions "
                     f"({claimed}): the record was altered")
    if record["record_id"] != again["record_id"]:
        found.append(f"record id {_shown(record['record_id'])} -> {again['record_id']} (rule base "
                     f"{_shown(record['rule_base_version'])} -> {again['rule_base_version']}, imr-rules "
                     f"{_shown(record['engine_version'])} -> {again['engine_version']})")
    for key in [k for k in again if k not in ("items", "record_id")] + [k for k in record if k not in again]:
        if record.get(key) != again.get(key):
            found.append(f"{printable(str(key))}: {_shown(record.get(key))} -> {_shown(again.get(key))}")
    old_items = [i for i in record["items"] if isinstance(i, dict)]
    old_ids = [i.get("item_id") for i in old_items]
    new_ids = [i["item_id"] for i in again["items"]]
    if len(old_items) != len(record["items"]) or old_ids != new_ids:
        found.append(f"items: the record has ids {_shown(old_ids)}, the case gives {_shown(new_ids)}")
    by_id = {i.get("item_id"): i for i in old_items if isinstance(i.get("item_id"), str)}
    for new in again["items"]:
        old = by_id.get(new["item_id"])
        if old is not None:
            found += _item_differences(old, new)
    return again, found
