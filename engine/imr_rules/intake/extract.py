"""Letter intake: turn an IMR determination letter into a validated case with its recorded outcome."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from imr_rules.cases import v1
from imr_rules.cases.migrate import migrate_data
from imr_rules.cases.model import Case
from imr_rules.cases.reader import parse_case
from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.common.text import printable
from imr_rules.intake.extract_facts import ExtractedFacts, extract_facts
from imr_rules.intake.findings import intake_vocabulary, region_mentions
from imr_rules.intake.items import item_details
from imr_rules.intake.letters import (
    Header,
    Letter,
    LetterError,
    LetterItem,
    Problem,
    Span,
    parse_letter,
    read_text,
)
from imr_rules.intake.terms import BodyRegion, Service


@dataclass
class Extraction:
    """The outcome of extracting one letter: a case (None when nothing usable) and every problem found.

    ``legacy`` holds the extracted facts in the version 1 layout intake gathers them in (case-wide
    neurologic findings and red flags); ``case`` is the same converted to version 2, as evaluated.
    """

    path: str
    case: Case | None
    letter: Letter | None = None
    problems: list[Diagnostic] = field(default_factory=list)
    legacy: v1.Case | None = None


def _diagnostic(path: str, problem: Problem) -> Diagnostic:
    if problem.severity == "error":
        return Diagnostic(path, None, "", problem.what, problem.hint, "error")
    return Diagnostic(path, None, "", problem.what, problem.hint, "warning")


def extract_letter(path: Path, today: dt.date | None = None) -> Extraction:
    """Read a letter (PDF or text) and build its case; problems are reported, nothing is invented."""
    name = display_path(path)
    notes: list[str] = []
    try:
        text = read_text(path, notes)
        letter = parse_letter(name, text)
    except LetterError as exc:
        return Extraction(name, None, problems=[Diagnostic(name, None, "", exc.what, exc.hint)])
    except OSError as exc:
        return Extraction(name, None, problems=[Diagnostic(name, None, "", f"cannot read the file: {exc.strerror}",
                                                           "check the path")])
    pdf_notes = [Diagnostic(name, None, "", f"PDF reader: {note}", "the PDF may be damaged; check the extracted "
                            "case against the letter", "warning") for note in dict.fromkeys(notes)]
    facts = extract_facts(text, letter.summary_start, letter.summary_end, letter.header.ur_denial_date,
                          frozenset(item.service.value for item in letter.items))
    # Re-read the items with the diagnoses' regions for items whose title names no region.
    letter = parse_letter(name, text, facts.diagnosis_regions)
    problems = pdf_notes + [_diagnostic(name, p) for p in letter.problems]
    header = letter.header
    injury = header.injury_date or facts.injury_date
    if injury is None:
        problems.append(Diagnostic(name, None, "claim.injury_date", "no date of injury in the letter",
                                   "a case needs the injury date; add it by hand"))
        return Extraction(name, None, letter, problems)
    spans = list(letter.spans) + list(facts.spans)
    request = _request_date(name, facts, header, injury, problems)
    if request is None:
        return Extraction(name, None, letter, problems)
    for item_number, item in enumerate(letter.items, start=1):
        if not item.region_stated:
            problems.append(Diagnostic(name, None, f"requested_items[{item_number - 1}].body_region",
                                       f"item {item_number} ({item.title}) names no body region; "
                                       f"'{item.body_region.value}' is taken from the diagnoses",
                                       "check the body region", "warning"))
    clinical = dict(facts.clinical)
    _certified_part(clinical, letter.items, facts.original_requests, facts.certified_visits)
    surgeries = [s for s in clinical.get("surgeries", []) if dt.date.fromisoformat(s["date"]) <= request
                 and dt.date.fromisoformat(s["date"]) >= injury - dt.timedelta(days=36500)]
    if "surgeries" in clinical:
        clinical["surgeries"] = surgeries
        if not surgeries:
            del clinical["surgeries"]
    spans.extend(_conservative_weeks(clinical, injury, request, spans))
    limit = today or dt.date.today()
    for study in [s for studies in facts.studies.values() for s in studies]:
        if "date" in study and dt.date.fromisoformat(study["date"]) > limit:
            del study["date"]
    data: dict[str, Any] = {
        "case_id": (header.case_number or path.stem)[:64],
        "description": f"Extracted from {path.name} by imr-rules extract.",
        "claim": {"injury_date": injury.isoformat()},
        "patient": {key: value for key, value in (("age", facts.age), ("sex", facts.sex)) if value is not None},
        "diagnoses": facts.diagnoses,
        "request_date": request.isoformat(),
        "requested_items": _items(letter.items),
        "clinical": clinical,
        "findings": facts.findings,
        "diagnosis_details": facts.diagnosis_details,
        "treatment_listed": facts.treatment_listed,
        "studies": facts.studies,
        "recorded": {
            "source": f"DWC IMR {header.case_number}" if header.case_number else path.name,
            "items": [_recorded(str(number), item) for number, item in enumerate(letter.items, start=1)],
        },
    }
    for key in ("decision_date", "ur_denial_date", "application_received", "reviewer_specialty", "priority"):
        value = getattr(header, key)
        if value is not None:
            data["recorded"][key] = value.isoformat() if isinstance(value, dt.date) else value
    data["warnings"] = [printable(f"{d.field}: {d.message}" if d.field else d.message)[:400]
                        for d in problems if d.severity == "warning"]
    data["provenance"] = [{"origin": "extracted", "field": s.field, "start": s.start, "end": s.end,
                           "text": " ".join(s.text.split())[:200]} for s in spans]
    try:
        legacy, case = _version2(data)
    except (ValidationError, InputError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.diagnostics[0].message
        problems.append(Diagnostic(name, None, "clinical", f"extracted clinical facts not valid: {message}",
                                   "the clinical facts are left out", "warning"))
        data["clinical"], data["findings"] = {}, []
        legacy, case = _version2(data)
    return Extraction(name, case, letter, problems, legacy)


def _regions_named(title: str) -> list[str]:
    """The body regions an item title names, in the order written, when it names more than one."""
    named = list(dict.fromkeys(region for _, region in region_mentions(title)))
    vocabulary = intake_vocabulary()
    specific = [region for region in named
                if not any(region in vocabulary.regions_up(other) and other != region for other in named)]
    return specific if len(specific) > 1 else []


def _request_date(name: str, facts: ExtractedFacts, header: Header, injury: dt.date,
                  problems: list[Diagnostic]) -> dt.date | None:
    """The request date: the summary's, else the UR denial, decision or application date, never before the injury.

    A letter whose dates are out of order still becomes a case: each date passed over is a warning
    naming it, and the first date on or after the injury is used. None (an error) only when the letter
    gives no date on or after the injury at all.
    """
    candidates = [(facts.request_date, f"the {facts.request_date_basis}"),
                  (header.ur_denial_date, "the UR denial date"), (header.decision_date, "the IMR decision date"),
                  (header.application_received, "the date the IMR application was received")]
    passed: list[str] = []
    for date, what in candidates:
        if date is None:
            continue
        if date < injury:
            problems.append(Diagnostic(name, None, "request_date", f"{what} {date} is before the injury date {injury}",
                                       "the letter's dates are out of order; a later date is used", "warning"))
            passed.append(what)
            continue
        if what != "the request for authorization date":
            problems.append(Diagnostic(name, None, "request_date",
                                       f"no usable request for authorization date; {what} {date} is used",
                                       "the request precedes the UR decision; the guideline edition is rarely "
                                       "affected", "warning"))
        return date
    problems.append(Diagnostic(name, None, "request_date", f"no date on or after the injury date {injury} in the "
                               "letter", "a case needs the request date; add it by hand"))
    return None


def _version2(data: dict[str, Any]) -> tuple[v1.Case, Case]:
    """The extracted facts, gathered in the version 1 layout, and the same as a version 2 case."""
    gathered = {key: value for key, value in data.items() if key not in ("warnings", "findings", "diagnosis_details",
                                                                         "treatment_listed", "studies")}
    migrated = migrate_data(gathered, intake_vocabulary()).data
    for diagnosis, details in zip(migrated.get("diagnoses", []), data.get("diagnosis_details", []), strict=False):
        diagnosis.update(details)
    for block, studies in data.get("studies", {}).items():
        migrated.setdefault("clinical", {})[block] = studies
    treatment = migrated.get("clinical", {}).get("treatment")
    if treatment is not None:  # complete only where the summary says its list is the whole treatment to date
        treatment["history_complete"] = bool(data.get("treatment_listed"))
    for item in migrated.get("requested_items", []):
        item.update(item_details(item["description"], item["service"]))
        if "visits" in item and re.search(r"\bat least\b", item["description"], re.I):
            item["visits_at_least"] = True
        if item.get("regions") == ["multiple"]:
            item["regions"] = _regions_named(item["description"]) or ["multiple"]
    if data.get("findings"):
        clinical = migrated.setdefault("clinical", {})
        clinical["findings"] = [*clinical.get("findings", []), *data["findings"]]
    if data.get("warnings"):
        migrated["warnings"] = data["warnings"]
    return v1.Case.model_validate(gathered), parse_case(migrated)


_ANCILLARY = re.compile(r"^associated surgical service|\bassist(?:ant)?\b|\bpre-?op(?:erative)?\b|"
                        r"\bpost-?op(?:erative)?\b|(?:medical|surgical) clearance", re.I)


def _items(items: list[LetterItem]) -> list[dict[str, Any]]:
    """The requested items; one requested with a surgery of the same letter is linked to it (ancillary_to).

    Associated surgical services, assistants, pre- and post-operative services are linked to the
    nearest surgery listed before them (or the first one); they take its body region when their own
    title names none.
    """
    surgeries = [index for index, item in enumerate(items) if item.service == Service.surgery]
    documents = []
    for index, item in enumerate(items):
        data = _item(str(index + 1), item)
        if surgeries and item.service != Service.surgery and _ANCILLARY.search(item.title):
            before = [s for s in surgeries if s < index]
            procedure = before[-1] if before else surgeries[0]
            data["ancillary_to"] = str(procedure + 1)
            if not item.region_stated and item.body_region != BodyRegion.systemic:
                data["body_region"] = items[procedure].body_region.value
        documents.append(data)
    return documents


def _conservative_weeks(clinical: dict[str, Any], injury: dt.date, request: dt.date, spans: list[Span]) -> list[Span]:
    """Weeks of conservative care: from the injury to the request, when treatment since the injury is documented.

    Only when the summary documents treatment given (a prior treatment or a medication in use) and
    no surgery; the span returned points at the treatment mention it rests on.
    """
    care = clinical.get("conservative_care", {})
    evidence = next((s for s in spans if s.field.startswith(("clinical.prior_treatment[", "clinical.medications["))),
                    None)
    if "weeks" in care or evidence is None or clinical.get("surgeries"):
        return []
    clinical["conservative_care"] = {**care, "weeks": max(0, (request - injury).days // 7)}
    return [Span("clinical.conservative_care.weeks", evidence.start, evidence.end, evidence.text)]


_VISIT_SERVICES = {Service.physical_therapy, Service.chiropractic, Service.acupuncture, Service.occupational_therapy,
                   Service.massage, Service.aquatic_therapy}


def _certified_part(clinical: dict[str, Any], items: list[LetterItem], original_requests: list[tuple[Service, int]],
                    certified: list[tuple[Service, int]]) -> None:
    """Visits utilization review certified when it modified a request.

    As stated ('modified ... allowing 10 sessions of physical therapy'), or else the original
    request's count less the count in dispute.
    """
    for item in items:
        if item.service not in _VISIT_SERVICES or item.visits is None:
            continue
        stated = [count for service, count in certified if service == item.service]
        derived = [count - item.visits for service, count in original_requests
                   if service == item.service and count > item.visits]
        if stated or derived:
            authorized = (stated or derived)[0]
            how = "as stated" if stated else "the original request less the visits in dispute"
            clinical.setdefault("prior_treatment", []).append({
                "type": item.service.value, "body_region": item.body_region.value, "visits_authorized": authorized,
                "note": f"certified by utilization review when it modified the request ({how})"})


def _item(item_id: str, item: LetterItem) -> dict[str, Any]:
    data: dict[str, Any] = {"id": item_id, "description": item.title[:300], "service": item.service.value,
                            "body_region": item.body_region.value}
    for key in ("visits", "frequency_per_week", "duration_weeks", "quantity", "drug"):
        value = getattr(item, key)
        if value is not None:
            data[key] = value
    return data


def _recorded(item_id: str, item: LetterItem) -> dict[str, Any]:
    data: dict[str, Any] = {"item": item_id, "decision": item.decision, "guideline": "other"}
    if item.reviewer is not None:
        primary = item.reviewer.primary
        data["guideline"] = primary.guideline
        if primary.section:
            data["section"] = primary.section[:200]
        if primary.pages:
            data["pages"] = primary.pages
        if primary.guideline in ("odg", "other") and item.reviewer.non_mtus:
            data["section"] = item.reviewer.non_mtus[0][:200]
    if item.claims_administrator is not None:
        data["claims_administrator_guideline"] = item.claims_administrator.primary.guideline
    return data


def case_document(case: Case) -> dict[str, Any]:
    """The case as plain data for YAML or JSON output, leaving out defaults (not documented) and nulls."""
    data = case.as_data()
    for entry in data.get("provenance", []):
        entry["origin"] = "extracted"
    return data
