"""Load stage for cases: read a case file, validate it against the case model and its date logic."""

from __future__ import annotations

import datetime as dt
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from imr_rules.cases.model import Case
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import SourceDocument, dotted, load_yaml


def read_case(path: Path, today: dt.date | None = None) -> Case:
    """Read and fully validate one case file; raise ``InputError`` listing every problem found."""
    document = load_yaml(path)
    return case_from_document(document, today)


def case_from_document(document: SourceDocument, today: dt.date | None = None) -> Case:
    """Validate already-parsed YAML as a case."""
    if not isinstance(document.data, dict):
        raise InputError([Diagnostic(document.name, 1, "", "a case file must be a mapping of fields",
                                     "start with 'case_id:', 'claim:', 'request_date:', 'requested_items:'")])
    flags = boolean_counts(document)
    try:
        case = Case.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(flags + translate(exc, document, Case)) from None
    problems = flags + check_case_logic(case, document, today or dt.date.today())
    if problems:
        raise InputError(problems)
    return case


def _number_fields(model: type[BaseModel]) -> tuple[set[str], dict[str, type[BaseModel]]]:
    """The fields of ``model`` that hold a number, and those that hold another model (or a list of them)."""
    numbers: set[str] = set()
    nested: dict[str, type[BaseModel]] = {}
    for name, info in model.model_fields.items():
        kinds = _unwrap(info.annotation)
        if any(k in (int, float) for k in kinds) and bool not in kinds:
            numbers.add(name)
        models = [k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)]
        if models:
            nested[name] = models[0]
    return numbers, nested


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list):
        return [kind for arg in typing.get_args(annotation) for kind in _unwrap(arg)]
    return [annotation]


def boolean_counts(document: SourceDocument) -> list[Diagnostic]:
    """``true``/``false`` given where a number is expected (``visits: true`` is not 1 visit)."""
    found: list[Diagnostic] = []
    pending: list[tuple[type[BaseModel], Any, tuple[str | int, ...]]] = [(Case, document.data, ())]
    while pending:
        model, data, path = pending.pop()
        if isinstance(data, list):
            pending += [(model, entry, (*path, index)) for index, entry in enumerate(data)]
            continue
        if not isinstance(data, dict):
            continue
        numbers, nested = _number_fields(model)
        for key, value in data.items():
            if key in numbers and isinstance(value, bool):
                where = (*path, key)
                found.append(Diagnostic(document.name, document.line_of(where), dotted(where),
                                        f"'{str(value).lower()}' is not a number", "give a count, e.g. 6"))
            elif key in nested:
                pending.append((nested[key], value, (*path, key)))
    return sorted(found, key=lambda d: (d.line or 0, d.field))


def check_case_logic(case: Case, document: SourceDocument, today: dt.date) -> list[Diagnostic]:
    """Checks the model cannot express: dates in order and not in the future, item ids unique and known."""
    found: list[Diagnostic] = []

    def report(path: tuple[str | int, ...], message: str, hint: str) -> None:
        found.append(Diagnostic(document.name, document.line_of(path), dotted(path), message, hint))

    injury = case.claim.injury_date
    if case.request_date < injury:
        report(("request_date",), f"request date {case.request_date} is before the injury date {injury}",
               "a request for authorization follows the injury; check both dates")
    for path, value in _dated_fields(case):
        if value > today:
            report(path, f"date {value} is in the future (today is {today})", "check the year")
    for index, surgery in enumerate(case.clinical.surgeries or []):
        if surgery.date > case.request_date:
            report(("clinical", "surgeries", index, "date"),
                   f"surgery date {surgery.date} is after the request date {case.request_date}",
                   "a planned surgery belongs in clinical.surgery_planned, not surgeries")
    seen: dict[str, int] = {}
    for index, item in enumerate(case.requested_items):
        if item.id in seen:
            report(("requested_items", index, "id"), f"item id '{item.id}' is used twice",
                   f"requested_items[{seen[item.id]}] already has it; ids must be unique")
        seen.setdefault(item.id, index)
    references: list[tuple[tuple[str | int, ...], str]] = [
        (("recorded", "items", i, "item"), entry.item) for i, entry in
        enumerate(case.recorded.items if case.recorded else [])]
    references += [(("expect", i, "item"), entry.item) for i, entry in enumerate(case.expect or [])]
    references += [(("requested_items", i, "ancillary_to"), item.ancillary_to)
                   for i, item in enumerate(case.requested_items) if item.ancillary_to is not None]
    for index, item in enumerate(case.requested_items):
        if item.ancillary_to is not None and item.ancillary_to == item.id:
            report(("requested_items", index, "ancillary_to"), f"item '{item.id}' names itself as the procedure "
                   "it accompanies", "ancillary_to is the id of another requested item (the surgery)")
        elif _in_ancillary_cycle(case, item.id):
            report(("requested_items", index, "ancillary_to"), f"item '{item.id}' accompanies an item that "
                   "(through ancillary_to) accompanies it in turn", "only the accompanying items name the procedure")
    for path, item_id in references:
        if item_id not in seen:
            report(path, f"refers to item '{item_id}', which is not requested",
                   f"requested item ids: {', '.join(seen)}")
    return found


def _in_ancillary_cycle(case: Case, start: str) -> bool:
    """Whether following ``ancillary_to`` from item ``start`` comes back to it."""
    links = {item.id: item.ancillary_to for item in case.requested_items}
    current = links.get(start)
    for _ in range(len(links)):
        if current is None:
            return False
        if current == start:
            return True
        current = links.get(current)
    return False


def _dated_fields(case: Case) -> list[tuple[tuple[str | int, ...], dt.date]]:
    dated: list[tuple[tuple[str | int, ...], dt.date]] = [
        (("claim", "injury_date"), case.claim.injury_date),
        (("request_date",), case.request_date),
    ]
    clinical = case.clinical
    for index, surgery in enumerate(clinical.surgeries or []):
        dated.append((("clinical", "surgeries", index, "date"), surgery.date))
    for index, image in enumerate(clinical.imaging or []):
        if image.date is not None:
            dated.append((("clinical", "imaging", index, "date"), image.date))
    for index, study in enumerate(clinical.electrodiagnostics or []):
        if study.date is not None:
            dated.append((("clinical", "electrodiagnostics", index, "date"), study.date))
    for index, med in enumerate(clinical.medications or []):
        if med.start_date is not None:
            dated.append((("clinical", "medications", index, "start_date"), med.start_date))
    return dated
