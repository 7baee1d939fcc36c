"""Load stage for cases: read a case file, validate it against the case model and its date logic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import ValidationError

from imr_rules.cases.model import Case
from imr_rules.cases.terms import unknown_terms
from imr_rules.cases.vocabulary import SINGULAR, Vocabulary, vocabulary_of
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import SourceDocument, dotted, load_yaml


def read_case(path: Path, today: dt.date | None = None, vocabulary: Vocabulary | None = None) -> Case:
    """Read and fully validate one case file; raise ``InputError`` listing every problem found.

    Services, regions and the other terms are checked against ``vocabulary`` (default: the shipped rules').
    """
    document = load_yaml(path)
    return case_from_document(document, today, vocabulary)


def case_from_document(document: SourceDocument, today: dt.date | None = None,
                       vocabulary: Vocabulary | None = None) -> Case:
    """Validate already-parsed YAML as a case."""
    if not isinstance(document.data, dict):
        raise InputError([Diagnostic(document.name, 1, "", "a case file must be a mapping of fields",
                                     "start with 'case_id:', 'claim:', 'request_date:', 'requested_items:'")])
    try:
        case = Case.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(translate(exc, document, Case)) from None
    problems = check_terms(case, document, vocabulary or vocabulary_of())
    problems += check_case_logic(case, document, today or dt.date.today())
    if problems:
        raise InputError(problems)
    return case


def check_terms(case: Case, document: SourceDocument, vocabulary: Vocabulary) -> list[Diagnostic]:
    """Every service, region, procedure and other term of the case must be in the vocabulary."""
    return [Diagnostic(document.name, document.line_of(path), dotted(path),
                       f"unknown {SINGULAR[kind]} '{term}'", vocabulary.hint(kind, term))
            for path, kind, term in unknown_terms(case, vocabulary)]


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
    for path, item_id in references:
        if item_id not in seen:
            report(path, f"refers to item '{item_id}', which is not requested",
                   f"requested item ids: {', '.join(seen)}")
    return found


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
