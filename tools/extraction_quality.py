"""Extraction quality: what ``imr-rules extract`` reads from the dev letters, field by field, against the annotations.

The annotations (``../shared/annotations/dev.jsonl``) have one JSON row per decided item. Rows are grouped by
letter (the last word of ``source_ref``, e.g. ``CM16-0213037``) and ordered by the ``-<n>`` suffix of their
``id`` (n = the item's order in the letter, 1-based). That order is *checked* against the extracted items
(count, decision, and the overlap of the annotated service text with the item title) and every mismatch is
reported as an :class:`AlignmentIssue`; rows are still paired by position.

Scoring, the same for every field (a *gold value* is one annotated value that can be compared):

* the extraction gives the gold value: **TP**;
* the extraction gives another value: **FP and FN** (a wrong value is both a false claim and a miss);
* the extraction gives nothing: **FN**;
* the gold says *not documented* (e.g. ``prior_pt_sessions: "unknown"``): **TN** when the extraction has
  nothing either, **FP** when it gives a value;
* a gold value written as free text the scorer cannot compare (``"4+ plus 6 approved"``) is *skipped* and
  counted as such, never guessed.

Precision is TP / (TP + FP) and recall TP / (TP + FN); either is ``None`` when its denominator is zero (no
value given, or no gold value). Letter-level fields are scored once per letter; item fields once per decided
item; clinical facts once per letter and distinct annotated value. Annotators wrote down only the facts the
decision turned on, so for clinical facts a value the extraction gives where no annotation exists is not
counted: their precision is *precision on annotated items*.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar

from imr_rules.cases.v1 import Case, Clinical
from imr_rules.intake.extract import Extraction, extract_letter
from imr_rules.intake.letters import LetterItem
from imr_rules.intake.terms import BodyRegion, Service
from imr_rules.regression.runner import BinaryCounts

Outcome = Literal["tp", "fp", "fn", "tn", "wrong", "skip"]
"""How one gold value compares: ``wrong`` counts as one FP and one FN; ``skip`` is an unscorable gold value."""


class _NotDocumented(Enum):
    NOT_DOCUMENTED = "not documented"


NOT_DOCUMENTED = _NotDocumented.NOT_DOCUMENTED
"""Gold value meaning the annotator found the fact not documented in the letter."""

G = TypeVar("G")
P = TypeVar("P")


# ---------------------------------------------------------------------------------------------------------------
# Tallies and the one comparison rule


@dataclass
class Miss:
    """One gold value the extraction did not get right: where, what the gold says, what was extracted."""

    letter: str
    item: int | None
    gold: str
    extracted: str
    outcome: Outcome


@dataclass
class Tally(BinaryCounts):
    """Counts for one field: TP, FP, FN, TN, number of gold values scored, and unscorable gold values skipped.

    Precision and recall are those of :class:`~imr_rules.regression.BinaryCounts` (None when undefined).
    """

    gold: int = 0
    skipped: int = 0

    def count(self, outcome: Outcome) -> None:
        """Count one gold value's outcome; a wrong value is both a false positive and a false negative."""
        if outcome == "skip":
            self.skipped += 1
            return
        self.gold += 1
        if outcome in ("tp", "tn"):
            setattr(self, outcome, getattr(self, outcome) + 1)
            return
        if outcome in ("fp", "wrong"):
            self.fp += 1
        if outcome in ("fn", "wrong"):
            self.fn += 1


def judge(gold: G | _NotDocumented, extracted: P | None, matches: Callable[[G, P], bool]) -> Outcome:
    """Compare one gold value with the extracted value (None = nothing extracted) by the module's rule."""
    if isinstance(gold, _NotDocumented):
        return "tn" if extracted is None else "fp"
    if extracted is None:
        return "fn"
    return "tp" if matches(gold, extracted) else "wrong"


def _equal(gold: Any, extracted: Any) -> bool:
    return bool(gold == extracted)


# ---------------------------------------------------------------------------------------------------------------
# Gold values: numbers, ranges, booleans


@dataclass(frozen=True)
class Range:
    """A gold number or range of numbers, inclusive (a single number has low == high)."""

    low: float
    high: float

    def contains(self, value: float, tolerance: float = 0.0) -> bool:
        """Whether ``value`` lies in the range widened by ``tolerance`` on each side."""
        return self.low - tolerance <= value <= self.high + tolerance

    def __str__(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-|to)\s*(\d+(?:\.\d+)?)\s*$")
_PAIN_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*/\s*10\b")


def parse_count(value: Any) -> Range | _NotDocumented | None:
    """A gold count: a number, a range 'a-b', NOT_DOCUMENTED for text without digits ('unknown').

    Free text with digits ('at least 6 (count unclear)') is not comparable: None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Range(float(value), float(value))
    if isinstance(value, str):
        match = _RANGE.match(value)
        if match:
            low, high = sorted((float(match.group(1)), float(match.group(2))))
            return Range(low, high)
        if not re.search(r"\d", value):
            return NOT_DOCUMENTED
    return None


def parse_pain(value: Any) -> Range | None:
    """A gold pain score: a number, or text starting 'a/10' or 'a-b/10' ('2-3/10 (from 7)' gives 2-3)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Range(float(value), float(value))
    if isinstance(value, str):
        match = _PAIN_TEXT.match(value) or _RANGE.match(value)
        if match:
            low = float(match.group(1))
            high = float(match.group(2)) if match.group(2) else low
            return Range(min(low, high), max(low, high))
    return None


def parse_bool(value: Any, text_means_present: bool = False) -> bool | None:
    """A gold yes/no: a boolean; an empty list is False; a description counts as True only when allowed."""
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and not value:
        return False
    if text_means_present and isinstance(value, str) and value.strip():
        return True
    return None


def finding_bool(finding: str) -> bool | None:
    """A case finding as a yes/no: present is True, absent is False, not documented is None."""
    return {"present": True, "absent": False}.get(finding)


# ---------------------------------------------------------------------------------------------------------------
# Vocabulary tables: annotation words to the project's vocabularies


SERVICE_CATEGORIES: dict[str, frozenset[Service]] = {
    "imaging_mri": frozenset({Service.imaging_mri}),
    "imaging_xray": frozenset({Service.imaging_xray}),
    "imaging_ct": frozenset({Service.imaging_ct}),
    "electrodiagnostic": frozenset({Service.electrodiagnostic}),
    # Annotators file every therapy discipline (occupational, aquatic) as physical therapy.
    "physical_therapy": frozenset({Service.physical_therapy, Service.occupational_therapy, Service.aquatic_therapy}),
    # The service vocabulary has no post-surgical therapy: the phase is a property of the case, not the service.
    "postsurgical_therapy": frozenset({Service.physical_therapy, Service.occupational_therapy,
                                       Service.aquatic_therapy}),
    "chiropractic": frozenset({Service.chiropractic}),
    "acupuncture": frozenset({Service.acupuncture}),
    # A cold or heat therapy unit is equipment.
    "dme": frozenset({Service.dme, Service.heat_cold_therapy}),
    "tens": frozenset({Service.tens}),
    "lab_test": frozenset({Service.lab_test}),
    "topical_analgesic": frozenset({Service.topical_analgesic}),
    "nsaid": frozenset({Service.nsaid}),
    "opioid": frozenset({Service.opioid}),
    "muscle_relaxant": frozenset({Service.muscle_relaxant}),
    "ppi": frozenset({Service.ppi}),
    # Drug classes the annotation vocabulary has no category for.
    "other_medication": frozenset({Service.other_medication, Service.anticonvulsant, Service.antidepressant,
                                   Service.sleep_aid, Service.benzodiazepine}),
    "surgery": frozenset({Service.surgery}),
    "injection_epidural": frozenset({Service.injection_epidural}),
    "injection_other": frozenset({Service.injection_other, Service.injection_facet, Service.injection_trigger_point}),
    "psych": frozenset({Service.psych_evaluation, Service.psychotherapy, Service.biofeedback,
                        Service.partial_hospitalization}),
    "home_health": frozenset({Service.home_health}),
}
"""Annotation ``service_category`` to the services accepted for it (any one of them matches)."""

OTHER_LIKE: frozenset[Service] = frozenset({
    Service.other, Service.office_visit, Service.referral, Service.functional_capacity_evaluation,
    Service.functional_restoration, Service.work_conditioning, Service.surgical_assistant, Service.massage,
    Service.therapeutic_ultrasound, Service.infrared_therapy, Service.traction, Service.heat_cold_therapy,
    Service.shockwave_therapy,
})
"""Services the annotation vocabulary has no category of its own for: annotation ``other`` matches these only."""

BODY_REGION_WORDS: dict[str, BodyRegion] = {
    "cervical": BodyRegion.cervical,
    "neck": BodyRegion.cervical,
    "thoracic": BodyRegion.thoracic,
    "lumbar": BodyRegion.lumbar,
    "shoulder": BodyRegion.shoulder,
    "elbow": BodyRegion.elbow,
    "wrist": BodyRegion.wrist_hand,
    "hand": BodyRegion.wrist_hand,
    "hip": BodyRegion.hip,
    "pelvis": BodyRegion.hip,
    "groin": BodyRegion.hip,
    "knee": BodyRegion.knee,
    "ankle": BodyRegion.ankle_foot,
    "foot": BodyRegion.ankle_foot,
    "head": BodyRegion.head,
    "chest": BodyRegion.chest,
    "abdomen": BodyRegion.abdomen,
    "upper_extremity": BodyRegion.upper_extremity,
    "lower_extremity": BodyRegion.lower_extremity,
}
"""Annotation ``body_regions`` words to the body-region vocabulary."""

GUIDELINE_DOCUMENTS: dict[str, str] = {
    "chronic pain medical treatment 2016": "cpmtg_2016",
    "chronic pain medical treatment 2009": "cpmtg_2009",
    "opioid treatment 2016": "opioids_2016",
    "acupuncture treatment 2007": "acupuncture_2007",
    "postsurgical treatment 2009": "postsurgical_2009",
    "general approaches 2004": "acoem_2004_general",
    "neck and upper back complaints 2004": "acoem_2004_ch8",
    "shoulder complaints 2004": "acoem_2004_ch9",
    "elbow complaints 2007": "acoem_2007_elbow",
    "forearm, wrist, and hand complaints 2004": "acoem_2004_ch11",
    "low back complaints 2004": "acoem_2004_ch12",
    "knee complaints 2004": "acoem_2004_ch13",
    "ankle and foot complaints 2004": "acoem_2004_ch14",
    "stress related conditions 2004": "acoem_2004_ch15",
}
"""MTUS document titles (with edition year) as the annotations write them, to guideline registry ids."""


def service_matches(category: str, service: Service) -> bool | None:
    """Whether an extracted service fits an annotated category; None for a category not in the table."""
    if category == "other":
        return service in OTHER_LIKE
    accepted = SERVICE_CATEGORIES.get(category)
    return None if accepted is None else service in accepted


def gold_regions(words: Sequence[str]) -> frozenset[BodyRegion] | None:
    """The body regions of an annotation's ``body_regions`` list; None when a word is not in the table."""
    regions = set()
    for word in words:
        region = BODY_REGION_WORDS.get(word.strip().lower())
        if region is None:
            return None
        regions.add(region)
    return frozenset(regions)


def region_matches(gold: frozenset[BodyRegion], extracted: BodyRegion) -> bool:
    """One gold region must be the extracted one; several gold regions match ``multiple`` or any one of them.

    (A request over several regions may be filed under ``multiple`` or under its main region: both accepted.)
    """
    if len(gold) == 1:
        return extracted in gold
    return extracted == BodyRegion.multiple or extracted in gold


def guideline_ids(source: str | None) -> frozenset[str] | None:
    """Registry ids an annotated ``guideline_cited.source`` stands for (any one matches); None if unknown.

    ``None`` source (the reviewer cited nothing) and non-MTUS citations other than ODG are ``other``, as the
    extraction files them; ODG is ``odg``; 'MTUS A 2004 + B 2016' is either document.
    """
    if source is None:
        return frozenset({"other"})
    text = " ".join(source.split())
    if text.lower().startswith("non-mtus"):
        return frozenset({"odg"}) if re.search(r"\bODG\b|Official Disability Guidelines", text) else \
            frozenset({"other"})
    text = re.sub(r"^MTUS\s+", "", text)
    ids = set()
    for part in text.split(" + "):
        found = GUIDELINE_DOCUMENTS.get(part.strip().lower().removeprefix("mtus ").strip(" ."))
        if found is None:
            return None
        ids.add(found)
    return frozenset(ids)


def page_numbers(pages: str) -> frozenset[int]:
    """Page numbers of a pages string: '13, 261, 269' or '89-90' (ranges expanded, at most 50 pages each)."""
    numbers: set[int] = set()
    for low, high in re.findall(r"(\d+)(?:\s*-\s*(\d+))?", pages):
        first = int(low)
        last = int(high) if high else first
        if first <= last <= first + 50:
            numbers.update(range(first, last + 1))
        else:
            numbers.add(first)
    return frozenset(numbers)


def normalise_specialty(text: str) -> str:
    """A reviewer specialty for comparison: lower case, '&' read as 'and', punctuation and a dangling 'and' dropped."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower().replace("&", " and ")).split()
    while words and words[-1] == "and":
        words.pop()
    return " ".join(words)


# ---------------------------------------------------------------------------------------------------------------
# Diagnoses: a simple token-overlap rule

_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "by", "documented", "for", "from", "in", "include", "included", "includes",
    "is", "of", "on", "or", "other", "the", "to", "was", "were", "with", "without"})


def content_words(text: str) -> frozenset[str]:
    """Lower-cased words of a diagnosis without stopwords; a plural 's' is dropped ('paresthesias')."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return frozenset(w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w
                     for w in words if w not in _STOPWORDS)


def diagnosis_similarity(gold: str, extracted: str) -> float:
    """How well an extracted diagnosis stands for an annotated one, 0 to 1.

    1.0 when every content word of the gold diagnosis is in the extracted one (containment), else the
    Jaccard overlap of the two sets of content words.
    """
    g, e = content_words(gold), content_words(extracted)
    if not g or not e:
        return 0.0
    if g <= e:
        return 1.0
    return len(g & e) / len(g | e)


DIAGNOSIS_THRESHOLD = 0.5
"""An annotated diagnosis is found when an extracted one has similarity at least this (see above)."""


def match_diagnoses(gold: Sequence[str], extracted: Sequence[str]) -> tuple[list[tuple[str, str]], list[str],
                                                                             list[str]]:
    """One-to-one matching, best pairs first: (matched pairs, gold not found, extracted matching no gold)."""
    pairs = sorted(((diagnosis_similarity(g, e), gi, ei) for gi, g in enumerate(gold)
                    for ei, e in enumerate(extracted)), reverse=True)
    used_gold: set[int] = set()
    used_extracted: set[int] = set()
    matched: list[tuple[str, str]] = []
    for score, gi, ei in pairs:
        if score < DIAGNOSIS_THRESHOLD or gi in used_gold or ei in used_extracted:
            continue
        used_gold.add(gi)
        used_extracted.add(ei)
        matched.append((gold[gi], extracted[ei]))
    missed = [g for i, g in enumerate(gold) if i not in used_gold]
    extra = [e for i, e in enumerate(extracted) if i not in used_extracted]
    return matched, missed, extra


# ---------------------------------------------------------------------------------------------------------------
# Clinical facts: annotation keys to case-model values


def prior_visits(clinical: Clinical, services: Iterable[Service]) -> list[int]:
    """Visits completed of every prior treatment entry of these types that states a number."""
    wanted = set(services)
    return [entry.visits_completed for entry in clinical.prior_treatment or []
            if entry.type in wanted and entry.visits_completed is not None]


def any_present(values: Iterable[str]) -> bool | None:
    """True when any finding is present, False when none is and one is absent, None when none is documented."""
    found = set(values)
    if "present" in found:
        return True
    return False if "absent" in found else None


def functional_improvement(clinical: Clinical) -> bool | None:
    """True when any prior treatment documents functional improvement, False when none does and one documents
    its absence, None when no prior treatment says anything about it."""
    values = {entry.functional_improvement for entry in clinical.prior_treatment or []}
    return any_present(values)


def neuro_deficit(clinical: Clinical) -> bool | None:
    """An objective neurologic deficit: True when focal deficit, sensory loss, motor weakness or reflex change
    is present; False when at least one is documented and all documented ones are absent; else None."""
    exam = clinical.neurologic
    values = [exam.focal_deficit, exam.sensory_loss, exam.motor_weakness, exam.reflex_change]
    return any_present(values)


def red_flags_documented_none(clinical: Clinical) -> bool | None:
    """Red flags as a yes/no: True when any is present, False when none is and at least one is documented
    absent, None when nothing is documented."""
    values = list(clinical.red_flags.model_dump().values())
    return any_present(values)


WORK_STATUS_WORDS: dict[str, frozenset[str]] = {
    "ttd": frozenset({"temporarily_totally_disabled"}),
    "temporarily totally disabled": frozenset({"temporarily_totally_disabled"}),
    "off work": frozenset({"temporarily_totally_disabled", "not_working"}),
    "full duty": frozenset({"full_duty"}),
    "regular duty": frozenset({"full_duty"}),
    "modified duty": frozenset({"modified_duty"}),
    "light duty": frozenset({"modified_duty"}),
    "retired": frozenset({"retired"}),
}
"""Annotated work status words to the WorkStatus values accepted ('TTD psych' reads as 'TTD')."""


def gold_work_status(value: Any) -> frozenset[str] | None:
    """The WorkStatus values a gold work status stands for, by its leading words; None when not in the table."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    for words, accepted in sorted(WORK_STATUS_WORDS.items(), key=lambda kv: -len(kv[0])):
        if text == words or text.startswith(words + " "):
            return accepted
    return None


def weeks_between(start: dt.date, end: dt.date) -> float:
    """Weeks from one date to another."""
    return (end - start).days / 7


def weeks_match(gold: float, extracted: float) -> bool:
    """Weeks agree within 2 weeks or 15% of the gold value, whichever is wider."""
    return abs(gold - extracted) <= max(2.0, 0.15 * gold)


@dataclass(frozen=True)
class FactSpec:
    """How one clinical-fact row is scored: the annotation keys it reads and how to compare."""

    name: str
    keys: tuple[str, ...]
    kind: Literal["count", "pain", "bool", "weeks", "work_status"]
    extracted: Callable[[Case], Any]
    where: str
    text_means_present: bool = False


def _finding_of(getter: Callable[[Clinical], str]) -> Callable[[Case], bool | None]:
    return lambda case: finding_bool(getter(case.clinical))


def _weeks_since_injury(case: Case) -> float:
    return weeks_between(case.claim.injury_date, case.request_date)


FACTS: tuple[FactSpec, ...] = (
    FactSpec("prior_pt_sessions", ("prior_pt_sessions", "prior_therapy_sessions"), "count",
             lambda c: prior_visits(c.clinical, (Service.physical_therapy, Service.occupational_therapy)),
             "prior_treatment[type physical/occupational therapy].visits_completed"),
    FactSpec("prior_chiropractic_sessions", ("prior_chiropractic_sessions", "chiropractic_sessions"), "count",
             lambda c: prior_visits(c.clinical, (Service.chiropractic,)),
             "prior_treatment[type chiropractic].visits_completed"),
    FactSpec("prior_acupuncture_sessions", ("prior_acupuncture_sessions",), "count",
             lambda c: prior_visits(c.clinical, (Service.acupuncture,)),
             "prior_treatment[type acupuncture].visits_completed"),
    FactSpec("pain_score", ("pain_score",), "pain", lambda c: c.clinical.pain_score, "clinical.pain_score (±1)"),
    FactSpec("pain_score_now", ("pain_score_now",), "pain", lambda c: c.clinical.pain_score,
             "clinical.pain_score (±1)"),
    FactSpec("red_flags", ("red_flags",), "bool", lambda c: red_flags_documented_none(c.clinical),
             "clinical.red_flags: any present / none present, one absent"),
    FactSpec("functional_improvement_documented",
             ("functional_improvement_documented", "functional_gain_documented", "improvement_with_prior_pt",
              "improvement_with_prior_pt_documented", "benefit_from_prior_pt", "benefit_from_prior_pt_documented"),
             "bool", lambda c: functional_improvement(c.clinical),
             "prior_treatment[*].functional_improvement: any present / none present, one absent"),
    FactSpec("neuro_deficit",
             ("neuro_deficit", "focal_neuro_deficit_documented", "nerve_compromise_documented",
              "neuro_deficit_documented", "dermatomal_deficit", "motor_deficit", "motor_sensory_deficit",
              "neuro_abnormalities", "neuro_findings"),
             "bool", lambda c: neuro_deficit(c.clinical),
             "clinical.neurologic focal/sensory/motor/reflex: any present / documented ones absent"),
    FactSpec("radicular_symptoms", ("radicular_symptoms",), "bool",
             _finding_of(lambda cl: cl.neurologic.radicular_symptoms), "clinical.neurologic.radicular_symptoms"),
    FactSpec("work_status", ("work_status",), "work_status",
             lambda c: c.clinical.work_status if c.clinical.work_status else None, "clinical.work_status"),
    FactSpec("weeks_since_injury", ("weeks_since_injury",), "weeks", _weeks_since_injury,
             "request_date - claim.injury_date (±2 weeks or ±15%)"),
    FactSpec("surgery_planned",
             ("surgery_contemplated", "surgery_planned", "surgery_considered", "surgical_intent",
              "surgical_intent_stated", "surgery_discussed", "surgery_likely"),
             "bool", _finding_of(lambda cl: cl.surgery_planned), "clinical.surgery_planned"),
    FactSpec("primary_surgery_certified", ("primary_surgery_certified",), "bool",
             _finding_of(lambda cl: cl.surgery_authorized), "clinical.surgery_authorized"),
    FactSpec("muscle_spasm", ("spasm", "cervical_spasm", "neck_spasm", "acute_spasm_on_exam"), "bool",
             _finding_of(lambda cl: cl.muscle_spasm), "clinical.muscle_spasm"),
    FactSpec("neuropathic_pain", ("neuropathic_pain", "neuropathic_pain_documented"), "bool",
             _finding_of(lambda cl: cl.neuropathic_pain), "clinical.neuropathic_pain"),
    FactSpec("failed_conservative_care", ("failed_conservative_care", "failed_conservative_care_documented"), "bool",
             _finding_of(lambda cl: cl.conservative_care.failed), "clinical.conservative_care.failed"),
    FactSpec("gi_symptoms", ("gi_symptoms",), "bool", _finding_of(lambda cl: cl.dyspepsia), "clinical.dyspepsia",
             text_means_present=True),
    FactSpec("gi_risk_factors", ("gi_risk_factors", "high_gi_risk", "high_gi_risk_factors"), "bool",
             _finding_of(lambda cl: cl.gi_risk_factors), "clinical.gi_risk_factors"),
    FactSpec("cures_checked", ("cures_checked",), "bool",
             _finding_of(lambda cl: cl.opioid_monitoring.cures_checked), "clinical.opioid_monitoring.cures_checked"),
    FactSpec("urine_drug_screen", ("urine_drug_screen",), "bool",
             _finding_of(lambda cl: cl.opioid_monitoring.urine_drug_screen_recent),
             "clinical.opioid_monitoring.urine_drug_screen_recent"),
    FactSpec("homebound", ("homebound_documented",), "bool", _finding_of(lambda cl: cl.homebound),
             "clinical.homebound"),
)
"""Every clinical-fact row: annotation keys (aliases, scored together) and the case value they are compared with."""

LETTER_LEVEL_FACT_KEYS = frozenset({"age"})
"""Fact keys that repeat a letter-level field of the same row (scored there, not again as a fact)."""

SCORED_FACT_KEYS = frozenset(key for spec in FACTS for key in spec.keys) | LETTER_LEVEL_FACT_KEYS


def score_fact(spec: FactSpec, gold_value: Any, case: Case | None) -> tuple[Outcome, str]:
    """Score one annotated fact value against the case (None = no case extracted): outcome and extracted value."""
    extracted = spec.extracted(case) if case is not None else None
    shown = "-" if extracted is None or extracted == [] else str(extracted)
    if spec.kind == "count":
        count_gold = parse_count(gold_value)
        if count_gold is None:
            return "skip", shown
        values: list[int] = extracted or []
        best = next((v for v in values if not isinstance(count_gold, _NotDocumented) and count_gold.contains(v)),
                    values[0] if values else None)
        return judge(count_gold, best, lambda g, v: g.contains(v)), shown
    if spec.kind == "pain":
        pain_gold = parse_pain(gold_value)
        if pain_gold is None:
            return "skip", shown
        return judge(pain_gold, extracted, lambda g, v: g.contains(float(v), tolerance=1.0)), shown
    if spec.kind == "weeks":
        weeks_gold = parse_count(gold_value)
        if not isinstance(weeks_gold, Range):
            return "skip", shown
        if extracted is not None:
            shown = f"{extracted:.1f}"
        return judge(weeks_gold, extracted, lambda g, v: weeks_match(g.low, float(v))), shown
    if spec.kind == "work_status":
        status_gold = gold_work_status(gold_value)
        if status_gold is None:
            return "skip", shown
        return judge(status_gold, extracted, lambda g, v: v in g), shown
    bool_gold = parse_bool(gold_value, spec.text_means_present)
    if bool_gold is None:
        return "skip", shown
    return judge(bool_gold, extracted, _equal), shown


# ---------------------------------------------------------------------------------------------------------------
# Annotations and their alignment with the extracted items


@dataclass(frozen=True)
class GoldItem:
    """One annotation row: its number in the letter (from the id) and the row as read."""

    number: int
    row: dict[str, Any]

    @property
    def id(self) -> str:
        """The annotation id."""
        return str(self.row.get("id", ""))


@dataclass(frozen=True)
class AlignmentIssue:
    """Something that keeps annotation rows and extracted items from lining up one to one."""

    letter: str
    item: int | None
    what: str


_ID_NUMBER = re.compile(r"-(\d+)$")


def letter_stem(row: dict[str, Any]) -> str:
    """The letter an annotation row belongs to: the last word of ``source_ref`` (e.g. 'CM16-0213037')."""
    return str(row.get("source_ref", "")).split()[-1] if str(row.get("source_ref", "")).split() else ""


def read_annotations(path: Path) -> tuple[dict[str, list[GoldItem]], list[AlignmentIssue]]:
    """Annotation rows grouped by letter and ordered by item number, with the problems found in the numbering.

    Numbers must run 1..n in each letter; a gap, a duplicate or an id without '-<n>' is reported.
    """
    by_letter: dict[str, list[GoldItem]] = defaultdict(list)
    issues: list[AlignmentIssue] = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        stem = letter_stem(row)
        match = _ID_NUMBER.search(str(row.get("id", "")))
        if not stem or match is None:
            issues.append(AlignmentIssue(stem or f"line {line_number}", None,
                                         f"annotation line {line_number}: no letter or no '-<n>' item number in id"))
            continue
        if not str(row["id"]).endswith(f"{stem}-{match.group(1)}"):
            issues.append(AlignmentIssue(stem, int(match.group(1)),
                                         f"id {row['id']} does not name the letter {stem}"))
        by_letter[stem].append(GoldItem(int(match.group(1)), row))
    for stem, items in by_letter.items():
        items.sort(key=lambda item: item.number)
        numbers = [item.number for item in items]
        if numbers != list(range(1, len(items) + 1)):
            issues.append(AlignmentIssue(stem, None, f"item numbers {numbers} do not run 1..{len(items)}"))
    return dict(by_letter), issues


_TITLE_NOISE = frozenset({
    "associated", "surgical", "service", "retrospective", "post", "pre", "op", "operative", "the", "of", "for", "a",
    "an", "and", "to", "with", "without", "x", "times", "per", "week", "weeks", "request", "requested"})


def title_words(text: str) -> frozenset[str]:
    """Words of an item title or annotated service for comparing the two (first five letters of each word)."""
    return frozenset(w[:5] for w in re.findall(r"[a-z]+", text.lower()) if w not in _TITLE_NOISE)


def title_similarity(gold: str, title: str) -> float:
    """Share of the smaller word set found in the other (0 when either is empty)."""
    g, t = title_words(gold), title_words(title)
    return len(g & t) / min(len(g), len(t)) if g and t else 0.0


def check_alignment(letter: str, gold: Sequence[GoldItem], items: Sequence[LetterItem]) -> list[AlignmentIssue]:
    """Check that annotation row n is extracted item n: same count, same decision, and the annotated service text
    closer to item n's title than to any other item's (a weak title match is reported, not repaired)."""
    issues: list[AlignmentIssue] = []
    if len(gold) != len(items):
        issues.append(AlignmentIssue(letter, None, f"{len(items)} items extracted, {len(gold)} annotated"))
    for position, (row, item) in enumerate(zip(gold, items, strict=False)):
        number = position + 1
        if row.row.get("decision") != item.decision:
            issues.append(AlignmentIssue(letter, number, f"decision {item.decision} extracted, "
                                                         f"{row.row.get('decision')} annotated"))
        service = str(row.row.get("service") or "")
        own = title_similarity(service, item.title)
        others = [(title_similarity(service, other.title), index + 1) for index, other in enumerate(items)
                  if index != position]
        best = max(others, default=(0.0, 0))
        if own == 0.0 or best[0] > own + 0.25:
            closer = f"; item {best[1]}'s title is closer" if best[0] > own else ""
            issues.append(AlignmentIssue(letter, number, f"weak title match ({own:.2f}) between the annotated "
                                                         f"service and the extracted title{closer}"))
    return issues


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


FieldLevel = Literal["letter", "item", "fact"]


@dataclass
class FieldScore:
    """One row of the table: a field, how it is compared, its tally and the gold values missed."""

    name: str
    level: FieldLevel
    compared_with: str
    tally: Tally = field(default_factory=Tally)
    misses: list[Miss] = field(default_factory=list)

    def record(self, outcome: Outcome, letter: str, item: int | None, gold: Any, extracted: Any) -> None:
        """Count an outcome; keep a miss record for anything but TP, TN and skip."""
        self.tally.count(outcome)
        if outcome in ("fp", "fn", "wrong"):
            self.misses.append(Miss(letter, item, _show(gold), _show(extracted), outcome))


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, _NotDocumented):
        return "not documented"
    if isinstance(value, frozenset | set):
        return "|".join(sorted(str(v) for v in value))
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


LETTER_FIELDS: tuple[tuple[str, str], ...] = (
    ("age", "patient.age"),
    ("sex", "patient.sex"),
    ("date_of_injury", "claim.injury_date"),
    ("ur_denial_date", "letter header UR Denial Date"),
    ("imr_decision_date", "letter header Decision Date"),
    ("reviewer_specialty", "letter header specialty (case, '&'/'and', punctuation ignored)"),
    ("request_date", "request_date, which falls back to the UR denial date (only where annotated)"),
    ("diagnoses", f"diagnoses[*].description (containment or Jaccard >= {DIAGNOSIS_THRESHOLD}, one to one)"),
    ("items_found", "number of decided items in the letter"),
)
ITEM_FIELDS: tuple[tuple[str, str], ...] = (
    ("decision", "recorded.items[i].decision"),
    ("service", "requested_items[i].service (category table)"),
    ("body_region", "requested_items[i].body_region (region table; several gold regions: multiple or one of them)"),
    ("sessions", "visits, else frequency x weeks (where annotated)"),
    ("frequency_per_week", "requested_items[i].frequency_per_week (where annotated)"),
    ("weeks", "requested_items[i].duration_weeks (where annotated)"),
    ("tablets", "requested_items[i].quantity (where annotated)"),
    ("guideline", "recorded.items[i].guideline (document table; '+': any listed)"),
    ("pages", "recorded.items[i].pages (any page in common; where annotated)"),
)


@dataclass
class QualityReport:
    """The measurement: one FieldScore per field, alignment problems, and what was not scored."""

    fields: dict[str, FieldScore]
    letters: int = 0
    letters_missing: list[str] = field(default_factory=list)
    failures: dict[str, list[str]] = field(default_factory=dict)
    alignment: list[AlignmentIssue] = field(default_factory=list)
    unscored_facts: Counter[str] = field(default_factory=Counter)
    overturned: Tally = field(default_factory=Tally)


def new_report() -> QualityReport:
    """An empty report with every field row in table order."""
    fields: dict[str, FieldScore] = {}
    for name, compared in LETTER_FIELDS:
        fields[name] = FieldScore(name, "letter", compared)
    for name, compared in ITEM_FIELDS:
        fields[name] = FieldScore(name, "item", compared)
    for spec in FACTS:
        keys = ", ".join(spec.keys)
        fields[spec.name] = FieldScore(spec.name, "fact", f"{spec.where}; keys: {keys}")
    return QualityReport(fields)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _letter_level(report: QualityReport, stem: str, gold: dict[str, Any], extraction: Extraction) -> None:
    case = extraction.legacy
    header = extraction.letter.header if extraction.letter is not None else None

    def score(name: str, gold_value: Any, extracted: Any, matches: Callable[[Any, Any], bool] = _equal,
              none_means_not_documented: bool = True) -> None:
        if gold_value is None:
            if not none_means_not_documented:
                return
            gold_value = NOT_DOCUMENTED
        report.fields[name].record(judge(gold_value, extracted, matches), stem, None, gold_value, extracted)

    score("age", gold.get("age"), case.patient.age if case else None)
    score("sex", gold.get("sex"), case.patient.sex if case else None)
    score("date_of_injury", _date(gold.get("date_of_injury")),
          case.claim.injury_date if case else header.injury_date if header else None)
    score("ur_denial_date", _date(gold.get("ur_denial_date")), header.ur_denial_date if header else None)
    score("imr_decision_date", _date(gold.get("imr_decision_date")), header.decision_date if header else None)
    score("reviewer_specialty", gold.get("reviewer_specialty"), header.reviewer_specialty if header else None,
          lambda g, e: normalise_specialty(str(g)) == normalise_specialty(str(e)))
    score("request_date", _date(gold.get("request_date")), case.request_date if case else None,
          none_means_not_documented=False)
    gold_dx = [str(d) for d in gold.get("diagnoses") or []]
    extracted_dx = [d.description for d in case.diagnoses] if case else []
    matched, missed, extra = match_diagnoses(gold_dx, extracted_dx)
    dx = report.fields["diagnoses"]
    for _ in matched:
        dx.tally.count("tp")
    for description in missed:
        dx.record("fn", stem, None, description, "; ".join(extracted_dx) or None)
    for description in extra:
        dx.tally.fp += 1
        dx.misses.append(Miss(stem, None, "-", description, "fp"))


def _item_level(report: QualityReport, stem: str, gold: Sequence[GoldItem], extraction: Extraction) -> None:
    items = extraction.letter.items if extraction.letter is not None else []
    case = extraction.legacy
    recorded = case.recorded.items if case is not None and case.recorded is not None else []
    requested = case.requested_items if case is not None else []
    report.fields["items_found"].record(judge(len(gold), len(items) if extraction.letter else None, _equal),
                                        stem, None, len(gold), len(items) if extraction.letter else None)
    for position, row in enumerate(gold):
        number = row.number
        data = row.row
        item = items[position] if position < len(items) else None
        rec = recorded[position] if position < len(recorded) else None
        req = requested[position] if position < len(requested) else None

        def record(name: str, outcome: Outcome, gold_value: Any, extracted: Any, _n: int = number) -> None:
            report.fields[name].record(outcome, stem, _n, gold_value, extracted)

        decision = item.decision if item else None
        record("decision", judge(data.get("decision"), decision, _equal), data.get("decision"), decision)
        gold_over, found_over = data.get("decision") == "Overturned", decision == "Overturned"
        if gold_over or found_over:
            report.overturned.count("tp" if gold_over and found_over else "fn" if gold_over else "fp")
        category = str(data.get("service_category") or "")
        service = item.service if item else None
        if category and (category == "other" or category in SERVICE_CATEGORIES):
            record("service", judge(category, service, lambda g, s: bool(service_matches(g, s))), category, service)
        elif category:
            record("service", "skip", category, service)
        words = data.get("body_regions")
        if words:
            regions = gold_regions([str(w) for w in words])
            region = item.body_region if item else None
            record("body_region", "skip" if regions is None else judge(regions, region, region_matches),
                   regions if regions is not None else words, region)
        quantity = data.get("quantity") or {}
        if isinstance(quantity, dict):
            _quantities(record, quantity, req)
        cited = data.get("guideline_cited")
        cited = cited if isinstance(cited, dict) else {}
        source = cited.get("source")
        ids = guideline_ids(source)
        guideline = rec.guideline if rec else None
        record("guideline", "skip" if ids is None else judge(ids, guideline, lambda g, v: v in g),
               ids if ids is not None else source, guideline)
        pages = cited.get("pages")
        if pages:
            gold_pages = page_numbers(str(pages))
            extracted_pages = page_numbers(rec.pages) if rec is not None and rec.pages else None
            record("pages", judge(gold_pages, extracted_pages, lambda g, e: bool(g & e)), pages,
                   rec.pages if rec else None)


def _quantities(record: Callable[[str, Outcome, Any, Any], None], quantity: dict[str, Any], req: Any) -> None:
    """Annotated quantity keys (sessions, frequency_per_week, weeks, tablets) against the requested item."""
    extracted = {
        "sessions": req.visits_requested if req is not None else None,
        "frequency_per_week": req.frequency_per_week if req is not None else None,
        "weeks": req.duration_weeks if req is not None else None,
        "tablets": req.quantity if req is not None else None,
    }
    for name, value in extracted.items():
        if quantity.get(name) is None:
            continue
        gold = parse_count(quantity[name])
        if not isinstance(gold, Range):
            record(name, "skip", quantity[name], value)
            continue
        record(name, judge(gold, value, lambda g, v: g.contains(float(v))), gold, value)


def _facts(report: QualityReport, stem: str, gold: Sequence[GoldItem], case: Case | None) -> None:
    seen: set[tuple[str, str]] = set()
    for row in gold:
        facts = row.row.get("facts") or {}
        if not isinstance(facts, dict):
            continue
        for key in facts:
            if key not in SCORED_FACT_KEYS:
                report.unscored_facts[key] += 1
        for spec in FACTS:
            for key in spec.keys:
                if key not in facts:
                    continue
                marker = (spec.name, json.dumps(facts[key], sort_keys=True))
                if marker in seen:
                    continue
                seen.add(marker)
                outcome, shown = score_fact(spec, facts[key], case)
                if spec.kind == "count" and isinstance(parse_count(facts[key]), _NotDocumented):
                    gold_shown: Any = NOT_DOCUMENTED
                else:
                    gold_shown = facts[key]
                report.fields[spec.name].record(outcome, stem, row.number, gold_shown,
                                                None if shown == "-" else shown)


def score_letter(report: QualityReport, stem: str, gold: Sequence[GoldItem], extraction: Extraction) -> None:
    """Add one letter's comparison to the report: letter fields, items (with alignment check) and facts."""
    report.letters += 1
    if extraction.case is None:
        report.failures[stem] = [d.render() for d in extraction.problems] or ["no case extracted"]
    if extraction.letter is not None:
        report.alignment.extend(check_alignment(stem, gold, extraction.letter.items))
    else:
        report.alignment.append(AlignmentIssue(stem, None, f"letter not read; {len(gold)} items annotated"))
    _letter_level(report, stem, gold[0].row, extraction)
    _item_level(report, stem, gold, extraction)
    _facts(report, stem, gold, extraction.legacy)


def letter_files(letters: Path, pdf: bool = False) -> dict[str, Path]:
    """Letter files of a folder by stem: the .txt files, or the .pdf files with ``pdf``."""
    suffix = ".pdf" if pdf else ".txt"
    return {path.stem: path for path in sorted(letters.iterdir()) if path.suffix.lower() == suffix}


def evaluate(annotations: Path, letters: Path, pdf: bool = False,
             progress: Callable[[int, int, str], None] | None = None,
             extract: Callable[[Path], Extraction] = extract_letter) -> QualityReport:
    """Extract every annotated letter in ``letters`` and score it against ``annotations``.

    ``progress(done, total, stem)`` is called before each letter; ``extract`` is the extraction to measure.
    Annotated letters without a file are listed in ``letters_missing``.
    """
    gold, issues = read_annotations(annotations)
    files = letter_files(letters, pdf)
    report = new_report()
    report.alignment.extend(issues)
    stems = sorted(gold)
    for done, stem in enumerate(stems):
        if progress is not None:
            progress(done, len(stems), stem)
        path = files.get(stem)
        if path is None:
            report.letters_missing.append(stem)
            continue
        score_letter(report, stem, gold[stem], extract(path))
    if progress is not None:
        progress(len(stems), len(stems), "")
    return report


# ---------------------------------------------------------------------------------------------------------------
# Rendering


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_lines(report: QualityReport) -> list[str]:
    """The headline figures: items found, decision, Overturned, service, guideline and pages accuracy."""
    def share(name: str, what: str) -> str:
        tally = report.fields[name].tally
        return f"{what}: {tally.tp}/{tally.gold}" + (f" ({tally.tp / tally.gold:.1%})" if tally.gold else "")

    over = report.overturned
    lines = [
        f"letters: {report.letters} scored" + (f", {len(report.letters_missing)} annotated letters without a file"
                                                if report.letters_missing else "")
        + (f", {len(report.failures)} without a case" if report.failures else ""),
        share("items_found", "letters with the annotated number of items"),
        share("decision", "decisions"),
        f"Overturned: recall {over.tp}/{over.tp + over.fn}, precision {over.tp}/{over.tp + over.fp}",
        share("service", "service"),
        share("body_region", "body region (items with annotated regions)"),
        share("guideline", "reviewer's guideline document"),
        share("pages", "guideline pages (items with annotated pages)"),
    ]
    return lines


def table_rows(report: QualityReport) -> list[list[str]]:
    """The table as strings: field, level, gold, TP, FP, FN, TN, skipped, precision, recall."""
    rows = []
    for score in report.fields.values():
        tally = score.tally
        rows.append([score.name, score.level, str(tally.gold), str(tally.tp), str(tally.fp), str(tally.fn),
                     str(tally.tn), str(tally.skipped), _ratio(tally.precision), _ratio(tally.recall)])
    return rows


HEADERS = ["field", "level", "gold", "TP", "FP", "FN", "TN", "skipped", "precision", "recall"]

NOTES = [
    "A wrong value counts as one FP and one FN; gold 'not documented' with nothing extracted is a TN.",
    "Clinical facts (level 'fact') are scored only where the annotators recorded them (the facts the decision "
    "turned on): their precision is precision on annotated items.",
    "'-': no value extracted (precision) or no gold value (recall). 'skipped': gold written as free text the "
    "scorer cannot compare.",
]


def unscored_line(report: QualityReport, minimum: int = 1) -> str:
    """Annotated fact keys with no scored case-model counterpart, most frequent first (those seen >= minimum)."""
    shown = [f"{key} ({count})" for key, count in sorted(report.unscored_facts.items(), key=lambda kv: (-kv[1], kv[0]))
             if count >= minimum]
    rest = sum(1 for count in report.unscored_facts.values() if count < minimum)
    text = ", ".join(shown)
    if rest:
        text += f", and {rest} keys annotated fewer than {minimum} times"
    return f"Not extracted (annotated fact keys not scored, no case-model field or no comparable value): {text}"


def render_text(report: QualityReport, unscored_minimum: int = 2) -> str:
    """The report as a plain-text table with its summary lines and notes."""
    rows = [HEADERS, *table_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row))
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join([*lines, "", *summary_lines(report), "", *NOTES, "", unscored_line(report, unscored_minimum)])


def render_markdown(report: QualityReport, unscored_minimum: int = 2) -> str:
    """The report as a Markdown table with its summary lines and notes (for the README)."""
    align = ["---", "---", *["---:"] * (len(HEADERS) - 2)]
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(report)]
    return "\n".join([*lines, "", *(f"- {line}" for line in summary_lines(report)), "",
                      *(f"- {note}" for note in NOTES), f"- {unscored_line(report, unscored_minimum)}"])


def render_misses(report: QualityReport, per_field: int) -> str:
    """Up to ``per_field`` misses of each field (letter, item, gold, extracted, outcome), for improving extraction."""
    lines = []
    for score in report.fields.values():
        if not score.misses or per_field <= 0:
            continue
        lines.append(f"{score.name} ({len(score.misses)} misses):")
        for miss in score.misses[:per_field]:
            where = miss.letter + (f" item {miss.item}" if miss.item is not None else "")
            lines.append(f"  {where}: gold {miss.gold!s:.80} | extracted {miss.extracted!s:.80} | {miss.outcome}")
    return "\n".join(lines)


def render_fields(report: QualityReport) -> str:
    """What each field row compares the annotation with, one a line."""
    width = max(len(name) for name in report.fields)
    return "\n".join(f"{score.name:<{width}}  {score.compared_with}" for score in report.fields.values())


def render_alignment(report: QualityReport) -> str:
    """The alignment problems and extraction failures, one a line ('none' when there are none)."""
    lines = [f"{issue.letter}" + (f" item {issue.item}" if issue.item is not None else "") + f": {issue.what}"
             for issue in report.alignment]
    lines += [f"{stem}: no case extracted: {'; '.join(problems)}" for stem, problems in report.failures.items()]
    lines += [f"{stem}: annotated, but no letter file" for stem in report.letters_missing]
    return "\n".join(lines) if lines else "none"
