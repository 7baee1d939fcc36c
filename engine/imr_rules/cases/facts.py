"""Project a case onto one requested item: the base facts a rule may read, each three-valued.

The names and wording live in ``rules/facts.yaml``; this module computes the values. The loader checks
that the two agree, so a rule can never read a fact no case provides.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from imr_rules.cases.model import Case, Finding, Medication, PriorTreatment, RequestedItem

DAYS_PER_MONTH = 30.4375

_MODALITY = {"imaging_xray": "xray", "imaging_mri": "mri", "imaging_ct": "ct"}


@dataclass(frozen=True)
class FactValue:
    """One base fact for one item: its value (``None`` when not documented) and where it came from."""

    name: str
    value: Any
    source: str

    @property
    def documented(self) -> bool:
        """True unless the fact is not documented."""
        return self.value is not None and self.value != "not_documented"


Projection = Callable[[Case, RequestedItem], tuple[Any, str]]


def _finding(value: Finding) -> str | None:
    return None if value == "not_documented" else value


def _months_between(earlier: dt.date, later: dt.date) -> float:
    return round((later - earlier).days / DAYS_PER_MONTH, 1)


def _matching_prior(case: Case, item: RequestedItem, postsurgical_only: bool) -> list[PriorTreatment] | None:
    entries = case.clinical.prior_treatment
    if entries is None:
        return None
    return [p for p in entries
            if p.type == item.service
            and (p.body_region is None or p.body_region == item.body_region)
            and (not postsurgical_only or (p.phase is not None and p.phase == "postsurgical"))]


def _sum_visits(entries: list[PriorTreatment] | None, attribute: str) -> int | None:
    if entries is None:
        return None
    values: list[int | None] = [getattr(entry, attribute) for entry in entries]
    counts = [v for v in values if v is not None]
    return sum(counts) if len(counts) == len(values) else None


def _combined_response(entries: list[PriorTreatment] | None) -> str | None:
    if not entries:
        return None
    states = {entry.functional_improvement for entry in entries}
    if "present" in states:
        return "present"
    if states == {"absent"}:
        return "absent"
    return None


def _surgery_on_region(case: Case, item: RequestedItem) -> Any:
    surgeries = case.clinical.surgeries
    if surgeries is None:
        return None
    on_region = [s for s in surgeries if s.body_region == item.body_region]
    return max(on_region, key=lambda s: s.date) if on_region else False


def _surgery_fact(case: Case, item: RequestedItem, what: str) -> tuple[Any, str]:
    surgery = _surgery_on_region(case, item)
    source = "clinical.surgeries"
    if what == "on_region":
        return (None if surgery is None else ("present" if surgery else "absent")), source
    if not surgery:
        return None, source
    if what == "procedure":
        return surgery.procedure, source
    return _months_between(surgery.date, case.request_date), source


def _prior_imaging(case: Case, item: RequestedItem) -> tuple[Any, str]:
    studies = case.clinical.imaging
    modality = _MODALITY.get(item.service)
    if studies is None or modality is None:
        return None, "clinical.imaging"
    same = [s for s in studies if s.modality == modality and s.body_region == item.body_region]
    return ("present" if same else "absent"), "clinical.imaging"


def _same_class(case: Case, item: RequestedItem) -> list[Medication] | None:
    meds = case.clinical.medications
    if meds is None:
        return None
    return [m for m in meds if m.drug_class == item.service]


def _class_in_use(classes: tuple[str, ...]) -> Projection:
    def project(case: Case, item: RequestedItem) -> tuple[Any, str]:
        meds = case.clinical.medications
        if meds is None:
            return None, "clinical.medications"
        found = any(m.drug_class is not None and m.drug_class in classes for m in meds)
        return ("present" if found else "absent"), "clinical.medications"
    return project


def _same_class_in_use(case: Case, item: RequestedItem) -> tuple[Any, str]:
    same = _same_class(case, item)
    return (None if same is None else ("present" if same else "absent")), "clinical.medications"


def _same_class_weeks(case: Case, item: RequestedItem) -> tuple[Any, str]:
    same = _same_class(case, item)
    if same is None:
        return None, "clinical.medications"
    if not same:
        return 0, "clinical.medications"
    starts = [m.start_date for m in same if m.start_date is not None]
    if not starts:
        return None, "clinical.medications"
    return (case.request_date - min(starts)).days // 7, "clinical.medications"


def _same_class_response(case: Case, item: RequestedItem) -> tuple[Any, str]:
    same = _same_class(case, item) or []
    states = {m.response for m in same}
    value = "present" if "present" in states else ("absent" if states == {"absent"} else None)
    return value, "clinical.medications"


def _region_study(block: str) -> Projection:
    def project(case: Case, item: RequestedItem) -> tuple[Any, str]:
        studies = getattr(case.clinical, block)
        if studies is None:
            return None, f"clinical.{block}"
        same = [s for s in studies if s.body_region == item.body_region]
        if any(s.abnormal == "present" for s in same):
            return "present", f"clinical.{block}"
        if all(s.abnormal == "absent" for s in same):  # also true when no study of the region
            return "absent", f"clinical.{block}"
        return None, f"clinical.{block}"
    return project


def _prior_edx(case: Case, item: RequestedItem) -> tuple[Any, str]:
    studies = case.clinical.electrodiagnostics
    if studies is None:
        return None, "clinical.electrodiagnostics"
    same = any(s.body_region == item.body_region for s in studies)
    return ("present" if same else "absent"), "clinical.electrodiagnostics"


def _surgery_authorized(case: Case, item: RequestedItem, decisions: dict[str, str]) -> tuple[Any, str]:
    decided = decisions.get(item.ancillary_to or "")
    if decided in ("Overturned", "Upheld"):
        value = "present" if decided == "Overturned" else "absent"
        return value, f"decision on requested item {item.ancillary_to}"
    return _finding(case.clinical.surgery_authorized), "clinical.surgery_authorized"


def drug_name(text: str) -> str:
    """A drug or ingredient as a rule names it: lower case, strengths and units dropped, words joined by '_'.

    'Gabapentin 10%' -> 'gabapentin'; 'Methyl Salicylate 20%' -> 'methyl_salicylate'.
    """
    words = [w for w in re.split(r"[\s\-]+", text.lower().strip())
             if w and not any(ch.isdigit() for ch in w) and w not in _UNITS]
    return "_".join(re.sub(r"[^a-z_]", "", w) for w in words).strip("_")


_UNITS = {"mg", "mcg", "g", "gm", "ml", "%", "er", "xr", "sr", "cr", "tab", "tabs", "tablet", "tablets", "cap",
          "caps", "capsule", "capsules", "cream", "gel", "ointment", "patch", "patches", "#"}


def _categories(case: Case, item: RequestedItem) -> tuple[Any, str]:
    cats = sorted({d.category for d in case.diagnoses if d.category is not None})
    return (cats or None), "diagnoses"


def _projections() -> dict[str, Projection]:
    c = "clinical"
    table: dict[str, Projection] = {
        "item.service": lambda case, item: (item.service, "requested_items.service"),
        "item.body_region": lambda case, item: (item.body_region, "requested_items.body_region"),
        "item.visits_requested": lambda case, item: (item.visits_requested, "requested_items.visits"),
        "item.frequency_per_week": lambda case, item: (item.frequency_per_week, "requested_items.frequency_per_week"),
        "item.duration_weeks": lambda case, item: (item.duration_weeks, "requested_items.duration_weeks"),
        "request.date": lambda case, item: (int(case.request_date.strftime("%Y%m%d")), "request_date"),
        "patient.age": lambda case, item: (case.patient.age, "patient.age"),
        "patient.sex": lambda case, item: (case.patient.sex, "patient.sex"),
        "injury.weeks_since": lambda case, item: (
            (case.request_date - case.claim.injury_date).days // 7, "claim.injury_date"),
        "diagnosis.categories": _categories,
        "prior.visits_completed": lambda case, item: (
            _sum_visits(_matching_prior(case, item, False), "visits_completed"), f"{c}.prior_treatment"),
        "prior.visits_authorized": lambda case, item: (
            _sum_visits(_matching_prior(case, item, False), "visits_authorized"), f"{c}.prior_treatment"),
        "prior.functional_improvement": lambda case, item: (
            _combined_response(_matching_prior(case, item, False)), f"{c}.prior_treatment"),
        "postop.visits_authorized": lambda case, item: (
            _sum_visits(_matching_prior(case, item, True), "visits_authorized"), f"{c}.prior_treatment"),
        "postop.visits_completed": lambda case, item: (
            _sum_visits(_matching_prior(case, item, True), "visits_completed"), f"{c}.prior_treatment"),
        "postop.functional_improvement": lambda case, item: (
            _combined_response(_matching_prior(case, item, True)), f"{c}.prior_treatment"),
        "surgery.on_region": lambda case, item: _surgery_fact(case, item, "on_region"),
        "surgery.procedure": lambda case, item: _surgery_fact(case, item, "procedure"),
        "surgery.months_since": lambda case, item: _surgery_fact(case, item, "months_since"),
        "surgery.planned": lambda case, item: (_finding(case.clinical.surgery_planned), f"{c}.surgery_planned"),
        "conservative_care.weeks": lambda case, item: (case.clinical.conservative_care.weeks,
                                                       f"{c}.conservative_care.weeks"),
        "conservative_care.failed": lambda case, item: (_finding(case.clinical.conservative_care.failed),
                                                        f"{c}.conservative_care.failed"),
        "conservative_care.home_exercise_program": lambda case, item: (
            _finding(case.clinical.conservative_care.home_exercise_program),
            f"{c}.conservative_care.home_exercise_program"),
        "imaging.prior_same_modality": _prior_imaging,
        "functional.deficits_documented": lambda case, item: (
            _finding(case.clinical.functional_status.deficits_documented), f"{c}.functional_status"),
        "functional.goals_documented": lambda case, item: (
            _finding(case.clinical.functional_status.goals_documented), f"{c}.functional_status"),
        "work.status": lambda case, item: (
            case.clinical.work_status if case.clinical.work_status else None, f"{c}.work_status"),
        "pain.score": lambda case, item: (case.clinical.pain_score, f"{c}.pain_score"),
        "item.quantity": lambda case, item: (item.quantity, "requested_items.quantity"),
        "item.ingredients": lambda case, item: (
            [drug_name(i) for i in item.ingredients if drug_name(i)] or None, "requested_items.ingredients"),
        "item.drug_names": lambda case, item: (
            [drug_name(part) for part in re.split(r"[/,+]| and ", item.drug or "") if drug_name(part)] or None,
            "requested_items.drug"),
        "item.ancillary": lambda case, item: (
            "present" if item.ancillary_to else "absent", "requested_items.ancillary_to"),
        "medication.same_class_in_use": _same_class_in_use,
        "medication.same_class_weeks": _same_class_weeks,
        "medication.same_class_response": _same_class_response,
        "medication.nsaid_in_use": _class_in_use(("nsaid",)),
        "medication.opioid_in_use": _class_in_use(("opioid",)),
        "medication.first_line_neuropathic_tried": _class_in_use(("antidepressant", "anticonvulsant")),
        "exam.muscle_spasm": lambda case, item: (_finding(case.clinical.muscle_spasm), f"{c}.muscle_spasm"),
        "pain.neuropathic": lambda case, item: (_finding(case.clinical.neuropathic_pain), f"{c}.neuropathic_pain"),
        "gi.risk_factors": lambda case, item: (_finding(case.clinical.gi_risk_factors), f"{c}.gi_risk_factors"),
        "gi.dyspepsia": lambda case, item: (_finding(case.clinical.dyspepsia), f"{c}.dyspepsia"),
        "home.homebound": lambda case, item: (_finding(case.clinical.homebound), f"{c}.homebound"),
        "opioid.med_mg_per_day": lambda case, item: (
            case.clinical.opioid_monitoring.morphine_equivalent_mg_per_day,
            f"{c}.opioid_monitoring.morphine_equivalent_mg_per_day"),
        "imaging.region_abnormal": _region_study("imaging"),
        "electrodiagnostic.region_abnormal": _region_study("electrodiagnostics"),
        "electrodiagnostic.prior_same_region": _prior_edx,
    }
    for name in ("analgesia_documented", "activity_improvement_documented", "adverse_effects_assessed",
                 "aberrant_behavior_assessed", "urine_drug_screen_recent", "cures_checked"):
        short = "activity_documented" if name == "activity_improvement_documented" else name
        table[f"opioid.{short}"] = _attribute_finding("opioid_monitoring", name)
    for name in ("focal_deficit", "sensory_loss", "motor_weakness", "reflex_change", "radicular_symptoms",
                 "nerve_tension_sign"):
        table[f"neuro.{name}"] = _attribute_finding("neurologic", name)
    for name in ("significant_trauma", "suspected_fracture_or_dislocation", "suspected_tumor",
                 "suspected_infection", "progressive_neurologic_deficit", "myelopathy",
                 "bowel_bladder_dysfunction", "cardiovascular_or_visceral_cause"):
        table[f"red_flag.{name}"] = _attribute_finding("red_flags", name)
    return table


def _attribute_finding(block: str, name: str) -> Projection:
    def project(case: Case, item: RequestedItem) -> tuple[Any, str]:
        return _finding(getattr(getattr(case.clinical, block), name)), f"clinical.{block}.{name}"
    return project


PROJECTIONS: dict[str, Projection] = _projections()
"""Every base fact the engine can compute from the case alone, by name."""

DECISION_PROJECTIONS = {"surgery.authorized": _surgery_authorized}
"""Base facts that also read the decisions already made on other items of the case."""

FACT_NAMES = (*PROJECTIONS, *DECISION_PROJECTIONS)


def project_item(case: Case, item: RequestedItem, names: Iterable[str] | None = None,
                 decisions: dict[str, str] | None = None) -> list[FactValue]:
    """The base facts for ``item``; only ``names`` when given; ``decisions`` of items decided earlier."""
    wanted = list(FACT_NAMES) if names is None else list(names)
    facts = []
    for name in wanted:
        if name in DECISION_PROJECTIONS:
            value, source = DECISION_PROJECTIONS[name](case, item, decisions or {})
        else:
            value, source = PROJECTIONS[name](case, item)
        facts.append(FactValue(name=name, value=value, source=source))
    return facts
