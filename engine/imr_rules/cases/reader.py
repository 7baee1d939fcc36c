"""Load stage for cases: read a case file, validate it against the case model, the vocabulary and its date logic.

Validation is strict in the way JSON Schema is (a number is not a string, ``yes`` is not ``present``), so
``docs/case.schema.json`` accepts what this reader accepts, up to the checks a schema cannot express
(dates in order, item references, regions a concept allows, ICD-10-CM codes).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from imr_rules.cases.model import SCHEMA_VERSION, Case, Finding, date_bounds
from imr_rules.cases.resolve import resolve_case
from imr_rules.cases.terms import unknown_terms
from imr_rules.cases.vocabulary import SINGULAR, Vocabulary, vocabulary_of
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import PathKey, SourceDocument, dotted, load_yaml

MIGRATE_HINT = "convert it with: imr-rules migrate {name} --in-place (docs/case-format.md says what changes)"
_GRADE = re.compile(r"^[0-5][+-]?(/5)?$")


def case_files_in(path: Path) -> list[Path]:
    """``path`` itself, or the case files under a folder (*.yaml, *.yml; rule example folders and names
    starting with '_' skipped), sorted."""
    if not path.is_dir():
        return [path]
    return [p for p in sorted(path.rglob("*.y*ml"))
            if not p.name.startswith("_") and not any(x.endswith(".examples") for x in p.parts)]


def read_case(path: Path, today: dt.date | None = None, vocabulary: Vocabulary | None = None,
              warnings: list[Diagnostic] | None = None) -> Case:
    """Read and fully validate one case file; raise ``InputError`` listing every problem found.

    Services, regions, concepts and the other terms are checked against ``vocabulary`` (default: the
    shipped rules'). Items and diagnoses given by codes or drug names are filled from the rule base's
    tables first; disagreements between a code and what the case writes are added to ``warnings``.
    """
    document = load_yaml(path)
    return case_from_document(document, today, vocabulary, warnings)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a case value")


def parse_case(data: Any) -> Case:
    """Validate plain data (as read from YAML or JSON) as a version 2 case; raise pydantic's ValidationError.

    The data go through JSON, so validation is strict as JSON Schema is: a number is not a string.
    """
    return Case.model_validate_json(json.dumps(data, default=_jsonable), strict=True)


def case_from_document(document: SourceDocument, today: dt.date | None = None,
                       vocabulary: Vocabulary | None = None, warnings: list[Diagnostic] | None = None) -> Case:
    """Validate already-parsed YAML (or JSON) as a case (filled from its codes and drug names first)."""
    if not isinstance(document.data, dict):
        raise InputError([Diagnostic(document.name, 1, "", "a case file must be a mapping of fields",
                                     "start with 'schema: 2', 'case_id:', 'claim:', 'request_date:', "
                                     "'requested_items:'")])
    version = document.data.get("schema")
    if version != SCHEMA_VERSION:
        what = "has no 'schema: 2' line: it is a version 1 case" if version is None else \
            f"says schema {version!r}; this imr-rules reads schema 2"
        raise InputError([Diagnostic(document.name, document.line_of(("schema",)) or 1, "schema",
                                     f"the case file {what}",
                                     MIGRATE_HINT.format(name=document.name))])
    vocabulary = vocabulary or vocabulary_of()
    resolution = resolve_case(document.data, vocabulary)
    located = [Diagnostic(document.name, document.line_of(path), dotted(path), message, hint)
               for path, message, hint in resolution.errors]
    if warnings is not None:
        warnings.extend(Diagnostic(document.name, document.line_of(path), dotted(path), message, hint, "warning")
                        for path, message, hint in resolution.warnings)
    try:
        case = parse_case(resolution.data)
    except ValidationError as exc:
        raise InputError(located + translate(exc, document, Case)) from None
    if located:
        raise InputError(located)
    problems = check_terms(case, document, vocabulary)
    if not problems:
        problems += check_findings(case, document, vocabulary)
    problems += check_case_logic(case, document, today or dt.date.today())
    if problems:
        raise InputError(problems)
    return case


def check_terms(case: Case, document: SourceDocument, vocabulary: Vocabulary) -> list[Diagnostic]:
    """Every service, region, concept and other term of the case must be in the vocabulary."""
    return [Diagnostic(document.name, document.line_of(path), dotted(path), f"unknown {SINGULAR[kind]} '{term}'",
                       vocabulary.hint(kind, term))
            for path, kind, term in unknown_terms(case, vocabulary)]


def _finding_problems(finding: Finding, vocabulary: Vocabulary) -> list[tuple[str, str, str]]:
    """(field, message, hint) for each way a finding contradicts its concept."""
    concept = vocabulary.term("concepts", finding.concept)
    found: list[tuple[str, str, str]] = []
    region = finding.region
    if region is None:
        if concept.scope != "patient":
            found.append(("region", f"finding '{finding.concept}' needs a region",
                          "give the region it was found on, or 'region: unknown' when the record does not say"))
        return found
    if vocabulary.region_scope_any(region):
        return found
    if concept.regions and not any(vocabulary.regions_related(region, allowed) for allowed in concept.regions):
        found.append(("region", f"'{finding.concept}' is not a finding of the {region} region",
                      "it applies to: " + ", ".join(concept.regions)))
    if finding.root is not None:
        spinal = vocabulary.region_of_root(finding.root)
        limb = vocabulary.territory_of(spinal) if spinal else None
        fits = spinal is not None and (vocabulary.regions_related(region, spinal)
                                       or (limb is not None and vocabulary.regions_related(region, limb)))
        if not fits:
            found.append(("root", f"root {finding.root} does not serve the {region} region",
                          f"{finding.root} belongs to the {spinal} region and its territory"))
    if finding.nerve is not None:
        nerve_region = vocabulary.term("nerves", finding.nerve).region
        if nerve_region and not vocabulary.regions_related(region, nerve_region):
            found.append(("nerve", f"the {finding.nerve} nerve does not serve the {region} region",
                          f"it serves the {nerve_region}"))
    if concept.value == "grade" and isinstance(finding.value, str) and not _GRADE.match(finding.value):
        found.append(("value", f"'{finding.value}' is not a strength grade", "write a grade like 4/5, 4+/5 or 3"))
    return found


def check_findings(case: Case, document: SourceDocument, vocabulary: Vocabulary) -> list[Diagnostic]:
    """Findings and items must agree with their vocabulary terms (regions, roots, nerves, test kinds)."""
    found: list[Diagnostic] = []

    def report(path: PathKey, message: str, hint: str) -> None:
        found.append(Diagnostic(document.name, document.line_of(path), dotted(path), message, hint))

    for index, finding in enumerate(case.clinical.findings):
        for name, message, hint in _finding_problems(finding, vocabulary):
            report(("clinical", "findings", index, name), message, hint)
    for index, item in enumerate(case.requested_items):
        if item.test_kind is not None:
            services = vocabulary.term("test_kinds", item.test_kind).services
            if services and item.service not in services:
                report(("requested_items", index, "test_kind"),
                       f"test kind '{item.test_kind}' is not a {item.service} test", "it is one of: "
                       + ", ".join(services))
    return found  # ICD-10-CM codes are checked when the case is filled from its codes (cases/resolve.py)


def is_icd10_code(code: str) -> bool:
    """Whether ``code`` (``M54.16`` or ``M5416``) is in the ICD-10-CM code set the reader checks against."""
    from imr_rules.cases.resolve import icd10_valid

    return icd10_valid(code)


def check_case_logic(case: Case, document: SourceDocument, today: dt.date) -> list[Diagnostic]:
    """Checks the model cannot express: dates in order and not in the future, item ids unique and known."""
    found: list[Diagnostic] = []

    def report(path: PathKey, message: str, hint: str) -> None:
        found.append(Diagnostic(document.name, document.line_of(path), dotted(path), message, hint))

    injury = case.claim.injury_date
    if case.request_date < injury:
        report(("request_date",), f"request date {case.request_date} is before the injury date {injury}",
               "a request for authorization follows the injury; check both dates")
    for path, value in _dated_fields(case):
        if date_bounds(value)[0] > today:
            report(path, f"date {value} is in the future (today is {today})", "check the year")
    for index, surgery in enumerate(case.clinical.surgeries or []):
        if surgery.date is not None and date_bounds(surgery.date)[0] > case.request_date:
            report(("clinical", "surgeries", index, "date"),
                   f"surgery date {surgery.date} is after the request date {case.request_date}",
                   "a planned surgery belongs in clinical.surgery_planned (or an item's ancillary_to), not surgeries")
    seen: dict[str, int] = {}
    for index, item in enumerate(case.requested_items):
        if item.id in seen:
            report(("requested_items", index, "id"), f"item id '{item.id}' is used twice",
                   f"requested_items[{seen[item.id]}] already has it; ids must be unique")
        seen.setdefault(item.id, index)
        if item.request_date is not None and item.request_date < injury:
            report(("requested_items", index, "request_date"),
                   f"request date {item.request_date} is before the injury date {injury}", "check both dates")
        if item.date_of_service is not None and not item.retrospective:
            report(("requested_items", index, "date_of_service"), "a date of service is given for a prospective item",
                   "add 'retrospective: true' when the service was already given")
    references: list[tuple[PathKey, str]] = [
        (("recorded", "items", i, "item"), entry.item) for i, entry in
        enumerate(case.recorded.items if case.recorded else [])]
    references += [(("expect", i, "item"), entry.item) for i, entry in enumerate(case.expect or [])]
    references += [(("requested_items", i, "ancillary_to"), item.ancillary_item)
                   for i, item in enumerate(case.requested_items) if item.ancillary_item is not None]
    for index, item in enumerate(case.requested_items):
        if item.ancillary_item is not None and item.ancillary_item == item.id:
            report(("requested_items", index, "ancillary_to"), f"item '{item.id}' names itself as the procedure "
                   "it accompanies", "ancillary_to is the id of another requested item (the surgery)")
        elif _in_ancillary_cycle(case, item.id):
            report(("requested_items", index, "ancillary_to"), f"item '{item.id}' accompanies an item that "
                   "(through ancillary_to) accompanies it in turn", "only the accompanying items name the procedure")
    for path, item_id in references:
        if item_id not in seen:
            report(path, f"refers to item '{item_id}', which is not requested",
                   f"requested item ids: {', '.join(seen)}; a procedure outside the case is written "
                   "as a mapping (description, status)")
    return found


def _in_ancillary_cycle(case: Case, start: str) -> bool:
    """Whether following ``ancillary_to`` from item ``start`` comes back to it."""
    links = {item.id: item.ancillary_item for item in case.requested_items}
    current = links.get(start)
    for _ in range(len(links)):
        if current is None:
            return False
        if current == start:
            return True
        current = links.get(current)
    return False


def _dated_fields(case: Case) -> list[tuple[PathKey, str]]:
    dated: list[tuple[PathKey, str]] = [
        (("claim", "injury_date"), case.claim.injury_date.isoformat()),
        (("request_date",), case.request_date.isoformat()),
    ]
    clinical = case.clinical
    for block in ("surgeries", "imaging", "electrodiagnostics"):
        for index, entry in enumerate(getattr(clinical, block) or []):
            if entry.date is not None:
                dated.append((("clinical", block, index, "date"), entry.date))
    for index, finding in enumerate(clinical.findings):
        if finding.date is not None:
            dated.append((("clinical", "findings", index, "date"), finding.date))
    for index, med in enumerate(clinical.medications or []):
        if med.start_date is not None:
            dated.append((("clinical", "medications", index, "start_date"), med.start_date))
    for index, course in enumerate(clinical.treatment.courses if clinical.treatment else []):
        for name in ("start", "end"):
            value = getattr(course, name)
            if value is not None:
                dated.append((("clinical", "treatment", "courses", index, name), value))
    for index, item in enumerate(case.requested_items):
        if item.date_of_service is not None:
            dated.append((("requested_items", index, "date_of_service"), item.date_of_service))
    return dated
