"""Project a case onto one requested item: the base facts a rule may read, each three-valued, region-scoped.

The names and wording of the fixed facts live in ``rules/facts.yaml``; the ``finding.<concept>`` facts are
generated from the clinical vocabulary. This module computes the values, for the item's own regions:

- a finding counts for an item when its region is the item's region, lies within it or contains it
  (knee and lower_extremity); a neurologic (territorial) finding also counts across a spinal region and
  the limb its roots serve (leg numbness for a lumbar request); a finding of another region never counts;
- a finding of a concept counts for every concept it is a kind of (a McMurray test is an internal
  derangement sign); an absent finding of a concept makes its kinds absent too (no neurologic deficit
  means no sensory loss);
- a therapy the treatment history does not list is not documented, unless the history says it is complete.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from imr_rules.cases.drugs import find_product
from imr_rules.cases.model import Case, Finding, Medication, RequestedItem, TreatmentCourse, date_middle
from imr_rules.cases.vocabulary import Vocabulary, vocabulary_of

DAYS_PER_MONTH = 30.4375
FINDING_PREFIX = "finding."

_MODALITY = {"imaging_xray": "xray", "imaging_mri": "mri", "imaging_ct": "ct"}
_ACTIVE_GROUPS = ("active_therapy", "manual_therapy")
_CONSERVATIVE_GROUPS = ("active_therapy", "manual_therapy", "passive_modality")
"""Service groups of conservative (non-invasive, non-drug) therapy."""


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


@dataclass(frozen=True)
class Scope:
    """What one projection needs: the case, the item, the vocabulary, the decisions made on other items."""

    case: Case
    item: RequestedItem
    vocabulary: Vocabulary
    decisions: dict[str, str]

    def region_matches(self, region: str | None, territorial: bool = False, finding: bool = False) -> bool:
        """True when something documented for ``region`` belongs to the item's regions.

        ``finding``: a finding of no stated region (or of a region the record does not name) is read for
        every region, as is any finding for a whole-person item. Other records (courses, surgeries,
        studies) count only for the same region, or one within or around it.
        """
        vocabulary = self.vocabulary
        if region is None:
            return True
        if finding and (vocabulary.region_scope_any(region)
                        or any(vocabulary.region_scope_any(r) for r in self.item.regions)):
            return True
        up = vocabulary.regions_up(region)
        for wanted in self.item.regions:
            if wanted in up or region in vocabulary.regions_up(wanted):
                return True
            if territorial and _across_territory(vocabulary, wanted, up):
                return True
        return False

    def side_matches(self, side: str | None) -> bool:
        """False only when both sides are stated, neither is bilateral, and they differ."""
        wanted = self.item.side
        return side is None or wanted is None or "bilateral" in (side, wanted) or side == wanted


def _across_territory(vocabulary: Vocabulary, wanted: str, finding_up: frozenset[str]) -> bool:
    limb = vocabulary.territory_of(wanted)
    if limb is not None and limb in finding_up:
        return True  # item on a spinal region, finding in the limb its roots serve
    wanted_up = vocabulary.regions_up(wanted)
    return any(term.territory in wanted_up and term.id in finding_up
               for term in vocabulary.terms["body_regions"].values() if term.territory)


Projection = Callable[[Scope], tuple[Any, str]]


def _months_between(earlier: dt.date, later: dt.date) -> float:
    return round((later - earlier).days / DAYS_PER_MONTH, 1)


# ---- findings ------------------------------------------------------------------------------------------

def _finding_counts(scope: Scope, finding: Finding) -> bool:
    concept = scope.vocabulary.term("concepts", finding.concept)
    region = finding.region
    if region is None and finding.root is not None:
        region = scope.vocabulary.region_of_root(finding.root)
    return scope.region_matches(region, territorial=concept.territorial, finding=True) and \
        scope.side_matches(finding.side)


def finding_state(scope: Scope, concept: str) -> tuple[str | None, list[int]]:
    """present / absent / None for ``concept`` at the item, and the findings that decided it.

    Present when a finding of the concept or of a kind of it is present; absent when a finding of the
    concept or of a concept it is a kind of is absent, and none is present.
    """
    up = scope.vocabulary.concepts_up
    present: list[int] = []
    absent: list[int] = []
    for index, finding in enumerate(scope.case.clinical.findings):
        if finding.status == "present" and concept in up(finding.concept) and _finding_counts(scope, finding):
            present.append(index)
        elif finding.status == "absent" and finding.concept in up(concept) and _finding_counts(scope, finding):
            absent.append(index)
    if present:
        return "present", present
    if absent:
        return "absent", absent
    return None, []


def _finding_fact(concept: str) -> Projection:
    def project(scope: Scope) -> tuple[Any, str]:
        value, indices = finding_state(scope, concept)
        where = ", ".join(f"[{i}]" for i in indices)
        return value, f"clinical.findings{where}" if indices else f"clinical.findings ({concept})"
    return project


_ROOT_SENSORY = "sensory_loss"
_ROOT_MOTOR = ("motor_weakness", "reflex_change")


def _root_concordance(scope: Scope) -> tuple[Any, str]:
    """Whether sensory and motor-or-reflex findings present at the item share a root (where roots are stated)."""
    up = scope.vocabulary.concepts_up
    present = [f for f in scope.case.clinical.findings if f.status == "present" and _finding_counts(scope, f)]
    sensory = [f for f in present if _ROOT_SENSORY in up(f.concept)]
    motor = [f for f in present if any(c in up(f.concept) for c in _ROOT_MOTOR)]
    source = "clinical.findings (roots)"
    if not sensory or not motor or any(f.root is None for f in (*sensory, *motor)):
        return None, source
    shared = {f.root for f in sensory} & {f.root for f in motor}
    return ("present" if shared else "absent"), source


# ---- treatment history ---------------------------------------------------------------------------------

def _courses(scope: Scope, services: Sequence[str], postsurgical_only: bool) -> tuple[list[TreatmentCourse] | None,
                                                                                       bool]:
    """The courses of these services for the item's regions, and whether the history is complete."""
    history = scope.case.clinical.treatment
    if history is None:
        return None, False
    found = [c for c in history.courses
             if c.modality in services and scope.region_matches(c.region) and scope.side_matches(c.side)
             and (not postsurgical_only or c.phase == "postsurgical")]
    return found, history.history_complete


def _sum_visits(courses: list[TreatmentCourse] | None, complete: bool, attribute: str) -> int | None:
    if courses is None or (not courses and not complete):
        return None
    values: list[int | None] = [getattr(course, attribute) for course in courses]
    counts = [v for v in values if v is not None]
    return sum(counts) if len(counts) == len(values) else None


def _combined(states: Iterable[str | None]) -> str | None:
    seen = set(states)
    if "present" in seen:
        return "present"
    if seen == {"absent"}:
        return "absent"
    return None


_NOT_YET_PERFORMED = ("certified", "not_certified", "pending")
BEFORE_SURGERY_SOURCE = "requested_items.ancillary_to (the procedure is not yet performed)"


def planned_procedure(scope: Scope) -> tuple[bool, str | None]:
    """Whether the item accompanies a procedure not yet performed, and that procedure when it is named.

    A procedure requested in the same case, or one outside it that is certified, not certified or pending,
    has not been performed: no postsurgical visit can have been given after it yet.
    """
    target = scope.item.ancillary_to
    if isinstance(target, str):
        requested = next((i for i in scope.case.requested_items if i.id == target), None)
        return True, requested.procedure if requested is not None else None
    if target is not None and target.status in _NOT_YET_PERFORMED:
        return True, target.procedure
    return False, None


def _course_fact(attribute: str, postsurgical_only: bool, same_service: bool = True) -> Projection:
    def project(scope: Scope) -> tuple[Any, str]:
        if postsurgical_only and attribute in ("visits_completed", "visits_authorized") and planned_procedure(scope)[0]:
            return 0, BEFORE_SURGERY_SOURCE
        services = [scope.item.service] if same_service else _services_in(scope.vocabulary, _ACTIVE_GROUPS)
        courses, complete = _courses(scope, services, postsurgical_only)
        if attribute in ("function_response", "pain_response"):
            response = _combined(getattr(c, attribute) for c in courses) if courses else None
            return response, "clinical.treatment"
        return _sum_visits(courses, complete, attribute), "clinical.treatment"
    return project


def _services_in(vocabulary: Vocabulary, groups: tuple[str, ...]) -> list[str]:
    """The services of the vocabulary that belong to one of ``groups``."""
    return [t.id for t in vocabulary.terms["services"].values() if t.group in groups]


# ---- surgeries, studies, medications ---------------------------------------------------------------------

def _surgery_fact(what: str) -> Projection:
    def project(scope: Scope) -> tuple[Any, str]:
        if what == "procedure":
            before, planned = planned_procedure(scope)
            if before and planned is not None:
                return planned, BEFORE_SURGERY_SOURCE
        surgeries = scope.case.clinical.surgeries
        source = "clinical.surgeries"
        if surgeries is None:
            return None, source
        on_region = [s for s in surgeries if _same_region(scope, s.region) and scope.side_matches(s.side)]
        if what == "on_region":
            return ("present" if on_region else "absent"), source
        procedures = {s.procedure for s in on_region}
        if what == "procedure" and len(procedures) == 1:
            return procedures.pop(), source
        dated = [s for s in on_region if s.date is not None]
        if not on_region or len(dated) < len(on_region):
            return None, source  # which surgery is the latest, or when it was, is not documented
        latest = max(dated, key=lambda s: date_middle(s.date) if s.date is not None else dt.date.min)
        if what == "procedure":
            return latest.procedure, source
        assert latest.date is not None
        return _months_between(date_middle(latest.date), scope.case.item_request_date(scope.item)), source
    return project


def _same_region(scope: Scope, region: str) -> bool:
    """Courses, surgeries and studies: the same region, one within it or around it (pseudo-regions: only equal)."""
    if scope.vocabulary.region_scope_any(region) or any(scope.vocabulary.region_scope_any(r)
                                                          for r in scope.item.regions):
        return region in scope.item.regions
    return scope.region_matches(region)


def _prior_imaging(scope: Scope) -> tuple[Any, str]:
    studies = scope.case.clinical.imaging
    modality = _MODALITY.get(scope.item.service)
    if studies is None or modality is None:
        return None, "clinical.imaging"
    same = [s for s in studies if s.kind == modality and _same_region(scope, s.region) and scope.side_matches(s.side)]
    return ("present" if same else "absent"), "clinical.imaging"


def _region_study(block: str) -> Projection:
    def project(scope: Scope) -> tuple[Any, str]:
        studies = getattr(scope.case.clinical, block)
        if studies is None:
            return None, f"clinical.{block}"
        same = [s for s in studies if _same_region(scope, s.region)]
        if any(s.abnormal == "present" for s in same):
            return "present", f"clinical.{block}"
        if all(s.abnormal == "absent" for s in same):  # also true when no study of the region
            return "absent", f"clinical.{block}"
        return None, f"clinical.{block}"
    return project


def _prior_edx(scope: Scope) -> tuple[Any, str]:
    studies = scope.case.clinical.electrodiagnostics
    if studies is None:
        return None, "clinical.electrodiagnostics"
    same = any(_same_region(scope, s.region) for s in studies)
    return ("present" if same else "absent"), "clinical.electrodiagnostics"


def _same_class(scope: Scope) -> list[Medication] | None:
    meds = scope.case.clinical.medications
    if meds is None:
        return None
    return [m for m in meds if m.drug_class == scope.item.service]


NON_OPIOID_ANALGESICS = ("nsaid", "anticonvulsant", "antidepressant", "topical_analgesic", "muscle_relaxant")
"""Medication classes that count as non-opioid pain treatment."""


def _non_opioid_without_relief(scope: Scope) -> tuple[Any, str]:
    """Present when a non-opioid pain medication in the list gives no pain relief; absent when all give relief."""
    meds = [m for m in scope.case.clinical.medications or [] if m.drug_class in NON_OPIOID_ANALGESICS]
    if any(m.pain_response == "absent" for m in meds):
        return "present", "clinical.medications"
    if meds and all(m.pain_response == "present" for m in meds):
        return "absent", "clinical.medications"
    return None, "clinical.medications"


def _conservative_without_relief(scope: Scope) -> tuple[Any, str]:
    """Present when a non-surgical course of conservative therapy for the item's region is documented as giving
    no pain relief or no functional improvement; otherwise not documented (a helpful course says nothing
    about the others)."""
    courses, _ = _courses(scope, _services_in(scope.vocabulary, _CONSERVATIVE_GROUPS), False)
    if any(c.phase != "postsurgical" and "absent" in (c.pain_response, c.function_response) for c in courses or []):
        return "present", "clinical.treatment"
    return None, "clinical.treatment"


def _course_given(modality: str, of_the_region: bool) -> Projection:
    """Present when a course of ``modality`` is in the treatment history and not recorded as 0 visits with none
    authorized (for the item's regions, or anywhere when ``of_the_region`` is False: an evaluation of the
    person); absent when the history is complete and lists none; otherwise not documented."""
    def project(scope: Scope) -> tuple[Any, str]:
        history = scope.case.clinical.treatment
        if history is None:
            return None, "clinical.treatment"
        courses = (_courses(scope, [modality], False)[0] or []) if of_the_region else \
            [c for c in history.courses if c.modality == modality]
        if any(c.visits_completed != 0 or (c.visits_authorized or 0) > 0 for c in courses):
            return "present", "clinical.treatment"
        return ("absent" if history.history_complete else None), "clinical.treatment"
    return project


def _tens_trial_failed(scope: Scope) -> tuple[Any, str]:
    """Present when a TENS course of the item's region brought no relief or function; absent when it helped."""
    courses, complete = _courses(scope, ["tens"], False)
    if not courses:
        return ("absent" if complete and courses is not None else None), "clinical.treatment"
    if any("absent" in (c.function_response, c.pain_response) for c in courses):
        return "present", "clinical.treatment"
    if all(c.function_response == "present" for c in courses):
        return "absent", "clinical.treatment"
    return None, "clinical.treatment"


def _class_in_use(classes: tuple[str, ...]) -> Projection:
    def project(scope: Scope) -> tuple[Any, str]:
        meds = scope.case.clinical.medications
        if meds is None:
            return None, "clinical.medications"
        found = any(m.drug_class in classes for m in meds)
        return ("present" if found else "absent"), "clinical.medications"
    return project


def _class_tried(classes: tuple[str, ...]) -> Projection:
    """Present when a drug of these classes is in use or a course of one is in the treatment history (tried and
    stopped); otherwise as the current list says (absent when it is documented without one)."""
    in_use = _class_in_use(classes)

    def project(scope: Scope) -> tuple[Any, str]:
        history = scope.case.clinical.treatment
        if history is not None and any(c.modality in classes for c in history.courses):
            return "present", "clinical.treatment"
        return in_use(scope)
    return project


def _opioid_requested(scope: Scope) -> tuple[Any, str]:
    """Present when another requested item of the case is an opioid; the request list is complete, so absent
    otherwise."""
    others = [i for i in scope.case.requested_items if i.id != scope.item.id and i.service == "opioid"]
    return ("present" if others else "absent"), "requested_items"


def _same_class_in_use(scope: Scope) -> tuple[Any, str]:
    same = _same_class(scope)
    return (None if same is None else ("present" if same else "absent")), "clinical.medications"


def _same_class_weeks(scope: Scope) -> tuple[Any, str]:
    same = _same_class(scope)
    if same is None:
        return None, "clinical.medications"
    if not same:
        return 0, "clinical.medications"
    starts = [date_middle(m.start_date) for m in same if m.start_date is not None]
    if not starts:
        return None, "clinical.medications"
    return (scope.case.item_request_date(scope.item) - min(starts)).days // 7, "clinical.medications"


def _benefit(medication: Medication) -> str | None:
    states = {medication.pain_response, medication.function_response}
    if states == {"present"}:
        return "present"
    return "absent" if "absent" in states else None


def _same_class_response(scope: Scope) -> tuple[Any, str]:
    same = _same_class(scope) or []
    return _combined(_benefit(m) for m in same) if same else None, "clinical.medications"


def _surgery_authorized(scope: Scope) -> tuple[Any, str]:
    target = scope.item.ancillary_to
    if isinstance(target, str):
        decided = scope.decisions.get(target)
        if decided in ("Overturned", "Upheld"):
            return ("present" if decided == "Overturned" else "absent"), f"decision on requested item {target}"
        return None, f"decision on requested item {target}"
    if target is not None:
        value = {"certified": "present", "performed": "present", "not_certified": "absent"}.get(target.status)
        return value, "requested_items.ancillary_to.status"
    return None, "requested_items.ancillary_to"


def drug_name(text: str) -> str:
    """A drug or ingredient as a rule names it: lower case, strengths and units dropped, words joined by '_'.

    'Gabapentin 10%' -> 'gabapentin'; 'Methyl Salicylate 20%' -> 'methyl_salicylate'.
    """
    words = [w for w in re.split(r"[\s\-]+", text.lower().strip())
             if w and not any(ch.isdigit() for ch in w) and w not in _UNITS]
    return "_".join(re.sub(r"[^a-z_]", "", w) for w in words).strip("_")


_UNITS = {"mg", "mcg", "g", "gm", "ml", "%", "er", "xr", "sr", "cr", "tab", "tabs", "tablet", "tablets", "cap",
          "caps", "capsule", "capsules", "cream", "gel", "ointment", "patch", "patches", "#"}


def _drug_names(scope: Scope) -> tuple[Any, str]:
    """The words of the drug line as names, then the ingredients the drug table gives the product."""
    text = scope.item.drug or ""
    names = [drug_name(part) for part in re.split(r"[/,+]| and ", text) if drug_name(part)]
    product = find_product(text, scope.vocabulary.tables, use_library=False) if text else None
    names += [name for name in (product.ingredients if product else ()) if name not in names]
    return names or None, "requested_items.drug"


def _categories(scope: Scope) -> tuple[Any, str]:
    cats = sorted({d.category for d in scope.case.diagnoses if d.category is not None and d.status != "rule_out"})
    return (cats or None), "diagnoses"


def _diagnosis_uncertain(scope: Scope) -> tuple[Any, str]:
    """Present when a diagnosis of the item's regions is only suspected or to be ruled out."""
    relevant = [d for d in scope.case.diagnoses if scope.region_matches(d.region, finding=True)]
    if any(d.status in ("suspected", "rule_out") for d in relevant):
        return "present", "diagnoses"
    return ("absent" if relevant else None), "diagnoses"


def _flag(value: bool) -> str:
    return "present" if value else "absent"


def _item_projections() -> dict[str, Projection]:
    return {
        "item.service": lambda s: (s.item.service, "requested_items.service"),
        "item.body_region": lambda s: (s.item.body_region, "requested_items.regions"),
        "item.visits_requested": lambda s: (s.item.visits_requested, "requested_items.visits"),
        "item.frequency_per_week": lambda s: (s.item.frequency_per_week, "requested_items.frequency_per_week"),
        "item.duration_weeks": lambda s: (s.item.duration_weeks, "requested_items.duration_weeks"),
        "item.quantity": lambda s: (s.item.quantity.amount if s.item.quantity else None,
                                    "requested_items.quantity"),
        "item.quantity_unit": lambda s: (s.item.quantity.unit if s.item.quantity else None,
                                         "requested_items.quantity.unit"),
        "item.refills": lambda s: (s.item.refills, "requested_items.refills"),
        "item.formulation": lambda s: (s.item.formulation, "requested_items.formulation"),
        "item.route": lambda s: (s.item.route, "requested_items.route"),
        "item.test_kind": lambda s: (s.item.test_kind, "requested_items.test_kind"),
        "item.procedure": lambda s: (s.item.procedure, "requested_items.procedure"),
        "item.device": lambda s: (s.item.device, "requested_items.device"),
        "item.acquisition": lambda s: (s.item.acquisition, "requested_items.acquisition"),
        "item.retrospective": lambda s: (_flag(s.item.retrospective), "requested_items.retrospective"),
        "item.certified_visits": lambda s: (s.item.certified.visits if s.item.certified else None,
                                            "requested_items.certified"),
        "item.ingredients": lambda s: (
            [drug_name(i) for i in s.item.ingredients if drug_name(i)] or None, "requested_items.ingredients"),
        "item.drug_names": _drug_names,
        "item.ancillary": lambda s: (_flag(s.item.ancillary_to is not None), "requested_items.ancillary_to"),
        "request.date": lambda s: (int(s.case.item_request_date(s.item).strftime("%Y%m%d")), "request_date"),
        "patient.age": lambda s: (s.case.patient.age, "patient.age"),
        "patient.sex": lambda s: (s.case.patient.sex, "patient.sex"),
        "injury.weeks_since": lambda s: (
            (s.case.item_request_date(s.item) - s.case.claim.injury_date).days // 7, "claim.injury_date"),
        "diagnosis.categories": _categories,
        "diagnosis.uncertain": _diagnosis_uncertain,
    }


def _clinical_projections() -> dict[str, Projection]:
    c = "clinical"
    return {
        "prior.visits_completed": _course_fact("visits_completed", False),
        "prior.visits_authorized": _course_fact("visits_authorized", False),
        "prior.functional_improvement": _course_fact("function_response", False),
        "prior.pain_relief": _course_fact("pain_response", False),
        "postop.visits_authorized": _course_fact("visits_authorized", True),
        "postop.visits_completed": _course_fact("visits_completed", True),
        "postop.functional_improvement": _course_fact("function_response", True),
        "course.visits_completed": _course_fact("visits_completed", False, same_service=False),
        "course.function_response": _course_fact("function_response", False, same_service=False),
        "surgery.on_region": _surgery_fact("on_region"),
        "surgery.procedure": _surgery_fact("procedure"),
        "surgery.months_since": _surgery_fact("months_since"),
        "surgery.planned": lambda s: (s.case.clinical.surgery_planned, f"{c}.surgery_planned"),
        "conservative_care.weeks": lambda s: (s.case.clinical.conservative_care.weeks, f"{c}.conservative_care.weeks"),
        "conservative_care.failed": lambda s: (s.case.clinical.conservative_care.failed,
                                               f"{c}.conservative_care.failed"),
        "conservative_care.home_exercise_program": lambda s: (
            s.case.clinical.conservative_care.home_exercise_program, f"{c}.conservative_care.home_exercise_program"),
        "imaging.prior_same_modality": _prior_imaging,
        "functional.deficits_documented": _finding_fact("functional_deficit"),
        "functional.goals_documented": lambda s: (s.case.clinical.functional_goals, f"{c}.functional_goals"),
        "work.status": lambda s: (s.case.clinical.work_status, f"{c}.work_status"),
        "pain.score": lambda s: (s.case.clinical.pain_score, f"{c}.pain_score"),
        "medication.same_class_in_use": _same_class_in_use,
        "medication.same_class_weeks": _same_class_weeks,
        "medication.same_class_response": _same_class_response,
        "medication.nsaid_in_use": _class_in_use(("nsaid",)),
        "medication.opioid_in_use": _class_in_use(("opioid",)),
        "medication.non_opioid_without_relief": _non_opioid_without_relief,
        "tens.trial_failed": _tens_trial_failed,
        "psych.cbt_course": _course_given("psychotherapy", of_the_region=True),
        "psych.evaluation_done": _course_given("psych_evaluation", of_the_region=False),
        "treatment.conservative_without_relief": _conservative_without_relief,
        "medication.first_line_neuropathic_tried": _class_tried(("antidepressant", "anticonvulsant")),
        "medication.opioid_requested": _opioid_requested,
        "exam.muscle_spasm": _finding_fact("muscle_spasm"),
        "pain.neuropathic": _finding_fact("neuropathic_pain"),
        "gi.risk_factors": _finding_fact("gi_risk_factor"),
        "gi.dyspepsia": _finding_fact("dyspepsia"),
        "home.homebound": _finding_fact("homebound"),
        "opioid.med_mg_per_day": lambda s: (s.case.clinical.opioid_monitoring.morphine_equivalent_mg_per_day,
                                            f"{c}.opioid_monitoring.morphine_equivalent_mg_per_day"),
        "imaging.region_abnormal": _region_study("imaging"),
        "electrodiagnostic.region_abnormal": _region_study("electrodiagnostics"),
        "electrodiagnostic.prior_same_region": _prior_edx,
        "neuro.root_concordance": _root_concordance,
    }


NEURO_FACTS = {"focal_deficit": "focal_neurologic_deficit", "sensory_loss": "sensory_loss",
               "motor_weakness": "motor_weakness", "reflex_change": "reflex_change",
               "radicular_symptoms": "radicular_symptoms", "nerve_tension_sign": "nerve_tension_sign"}
"""The ``neuro.*`` facts and the concept each reads."""

RED_FLAG_FACTS = ("significant_trauma", "suspected_fracture_or_dislocation", "suspected_tumor", "suspected_infection",
                  "progressive_neurologic_deficit", "myelopathy", "bowel_bladder_dysfunction",
                  "cardiovascular_or_visceral_cause")
"""The ``red_flag.*`` facts; each reads the concept of the same name."""


def _projections() -> dict[str, Projection]:
    table = {**_item_projections(), **_clinical_projections()}
    for name in ("analgesia_documented", "activity_improvement_documented", "adverse_effects_assessed",
                 "aberrant_behavior_assessed", "urine_drug_screen_recent", "cures_checked"):
        short = "activity_documented" if name == "activity_improvement_documented" else name
        table[f"opioid.{short}"] = _monitoring(name)
    for name, concept in NEURO_FACTS.items():
        table[f"neuro.{name}"] = _finding_fact(concept)
    for name in RED_FLAG_FACTS:
        table[f"red_flag.{name}"] = _finding_fact(name)
    table["surgery.authorized"] = _surgery_authorized
    table["medication.nsaid_response"] = _class_response("nsaid")
    table["item.codes"] = lambda s: (
        [code.strip().lower() for code in s.item.codes if code.strip()] or None, "requested_items.codes")
    return table


def _class_response(drug_class: str) -> Projection:
    """Documented benefit (pain and function) from the medications of one class in use."""
    def project(scope: Scope) -> tuple[Any, str]:
        same = [m for m in scope.case.clinical.medications or [] if m.drug_class == drug_class]
        return _combined(_benefit(m) for m in same) if same else None, "clinical.medications"
    return project


def _monitoring(name: str) -> Projection:
    def project(scope: Scope) -> tuple[Any, str]:
        return getattr(scope.case.clinical.opioid_monitoring, name), f"clinical.opioid_monitoring.{name}"
    return project


PROJECTIONS: dict[str, Projection] = _projections()
"""Every fixed base fact (``rules/facts.yaml``), by name."""

FACT_NAMES = tuple(PROJECTIONS)
"""The fixed base facts; ``finding.<concept>`` facts come on top, one per concept of the vocabulary."""


def finding_fact_names(vocabulary: Vocabulary) -> tuple[str, ...]:
    """The ``finding.<concept>`` base facts of a vocabulary."""
    return tuple(FINDING_PREFIX + concept for concept in vocabulary.ids("concepts"))


def project_item(case: Case, item: RequestedItem, names: Iterable[str] | None = None,
                 decisions: dict[str, str] | None = None, vocabulary: Vocabulary | None = None) -> list[FactValue]:
    """The base facts for ``item``; only ``names`` when given; ``decisions`` of items decided earlier."""
    scope = Scope(case, item, vocabulary or vocabulary_of(), decisions or {})
    wanted = [*FACT_NAMES, *finding_fact_names(scope.vocabulary)] if names is None else list(names)
    facts = []
    for name in wanted:
        if name.startswith(FINDING_PREFIX):
            value, source = _finding_fact(name.removeprefix(FINDING_PREFIX))(scope)
        else:
            value, source = PROJECTIONS[name](scope)
        facts.append(FactValue(name=name, value=value, source=source))
    return facts
