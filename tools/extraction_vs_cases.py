"""Extraction measured against the hand-made cases: precision and recall of clinical facts per field.

The annotations (``extraction_quality``) hold only the facts a decision turned on and have nothing on
medications, opioid monitoring or care. The hand-made historical cases (``cases/historical``) were
encoded from the same case summaries, so they are a second reference for those facts. Each field is
reduced to a set of comparable facts per case (e.g. the drug classes in use, or (finding, value)
pairs); a fact in both counts as a true positive, one only extracted as a false positive, one only in
the hand-made case as a false negative. The hand-made cases are one encoder's reading, not a gold
standard: a false positive may be a fact the encoder left out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

from imr_rules.cases import v1
from imr_rules.cases.migrate import NEUROLOGIC
from imr_rules.cases.model import Case, Clinical, TreatmentCourse
from imr_rules.cases.reader import read_case
from imr_rules.common.diagnostics import InputError
from imr_rules.intake.extract import Extraction, extract_letter
from tools.extraction_quality import Tally


def _findings(prefix: str, block: object) -> set[Hashable]:
    """(name, value) of every documented fact of a block (fields that are present or absent)."""
    values = vars(block) if block is not None else {}
    return {(f"{prefix}{name}", value) for name, value in values.items()
            if isinstance(value, str) and value in ("present", "absent")}


def _concepts(clinical: Clinical, concepts: Iterable[str]) -> set[Hashable] | None:
    """(concept, status) of the findings of these concepts, whatever their region."""
    wanted = set(concepts)
    return {(f.concept, f.status) for f in clinical.findings if f.concept in wanted} or None


def _medication_classes(clinical: Clinical) -> set[Hashable] | None:
    if clinical.medications is None:
        return None
    return {m.drug_class for m in clinical.medications if m.drug_class is not None}


def _courses(clinical: Clinical) -> list[TreatmentCourse] | None:
    return None if clinical.treatment is None else clinical.treatment.courses


def _treatment_types(clinical: Clinical) -> set[Hashable] | None:
    courses = _courses(clinical)
    return None if courses is None else {c.modality for c in courses if c.visits_authorized is None}


def _visits_completed(clinical: Clinical) -> set[Hashable] | None:
    courses = _courses(clinical)
    return None if courses is None else {(c.modality, c.visits_completed) for c in courses
                                         if c.visits_completed is not None}


def _visits_authorized(clinical: Clinical) -> set[Hashable] | None:
    courses = _courses(clinical)
    return None if courses is None else {(c.modality, c.visits_authorized) for c in courses
                                         if c.visits_authorized is not None}


def _surgeries(clinical: Clinical) -> set[Hashable] | None:
    if clinical.surgeries is None:
        return None
    return {(s.region, s.date) for s in clinical.surgeries}


def _studies(clinical: Clinical) -> set[Hashable] | None:
    if clinical.imaging is None and clinical.electrodiagnostics is None:
        return None
    found: set[Hashable] = {(s.kind, s.region) for s in clinical.imaging or []}
    return found | {("edx", s.region) for s in clinical.electrodiagnostics or []}


def _functional(clinical: Clinical) -> set[Hashable] | None:
    found: set[Hashable] = set(_concepts(clinical, ["functional_deficit"]) or set())
    if clinical.functional_goals is not None:
        found.add(("functional_goals", clinical.functional_goals))
    return found or None


def _scalar(getter: Callable[[Clinical], object]) -> Callable[[Clinical], set[Hashable] | None]:
    def facts(clinical: Clinical) -> set[Hashable] | None:
        value = getter(clinical)
        return None if value is None else {value}
    return facts


# field name -> the set of comparable facts of a case's clinical block (None: the case says nothing).
FIELDS: dict[str, Callable[[Clinical], set[Hashable] | None]] = {
    "medications (drug classes in use)": _medication_classes,
    "prior treatment types given": _treatment_types,
    "prior visits completed (type, count)": _visits_completed,
    "visits certified by UR (type, count)": _visits_authorized,
    "surgeries (region, date)": _surgeries,
    "imaging and electrodiagnostics (kind, region)": _studies,
    "neurologic findings": lambda c: _concepts(c, NEUROLOGIC.values()),
    "red flags": lambda c: _concepts(c, v1.RedFlags.model_fields),
    "conservative care (failed, home exercise)": lambda c: _findings("", c.conservative_care) or None,
    "functional status (deficits, goals)": _functional,
    "opioid monitoring": lambda c: _findings("", c.opioid_monitoring) or None,
    "surgery planned": _scalar(lambda c: c.surgery_planned),
    "muscle spasm": lambda c: _concepts(c, ["muscle_spasm"]),
    "work status": _scalar(lambda c: c.work_status),
    "pain score": _scalar(lambda c: None if c.pain_score is None else round(c.pain_score)),
}


def score_pair(tallies: dict[str, Tally], extracted: Case, hand_made: Case) -> None:
    """Add one letter's comparison to ``tallies`` (one per field of FIELDS)."""
    for name, facts in FIELDS.items():
        ours, theirs = facts(extracted.clinical), facts(hand_made.clinical)
        if ours is None and theirs is None:
            continue
        ours, theirs = ours or set(), theirs or set()
        tally = tallies.setdefault(name, Tally())
        tally.tp += len(ours & theirs)
        tally.fp += len(ours - theirs)
        tally.fn += len(theirs - ours)
        tally.gold += len(theirs)


def compare(letters: Iterable[Path], cases_dir: Path,
            extract: Callable[[Path], Extraction] = extract_letter) -> tuple[dict[str, Tally], int]:
    """Extract each letter that has a hand-made case of the same name in ``cases_dir``; tallies and letters compared.

    ``extract`` is the extraction to measure (the quality script passes a cached one, so that letters
    are extracted once for both measurements).
    """
    tallies: dict[str, Tally] = {name: Tally() for name in FIELDS}
    compared = 0
    for letter in letters:
        hand_path = cases_dir / f"{letter.stem}.yaml"
        if not hand_path.is_file():
            continue
        extraction = extract(letter)
        try:
            hand_made = read_case(hand_path)
        except InputError:
            continue
        if extraction.case is None:
            continue
        score_pair(tallies, extraction.case, hand_made)
        compared += 1
    return tallies, compared


def render_markdown(tallies: dict[str, Tally], compared: int) -> str:
    """The comparison as a Markdown table."""
    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [f"Compared on {compared} letters with a hand-made case.", "",
             "| field | in hand-made cases | TP | FP | FN | precision | recall |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {name} | {t.gold} | {t.tp} | {t.fp} | {t.fn} | {ratio(t.precision)} | {ratio(t.recall)} |"
              for name, t in tallies.items()]
    return "\n".join(lines)
