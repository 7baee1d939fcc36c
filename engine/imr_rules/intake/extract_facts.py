"""Clinical facts from a letter's CLINICAL CASE SUMMARY (never the rationale), with medspaCy.

Concept mentions are found with medspaCy target rules; whether each mention is negated, uncertain,
hypothetical, historical or about a family member comes from medspaCy's ConText component, not from
home-made negation patterns. Numbers and dates next to a mention (ages, counts, pain scores) are read
with small regular expressions. A fact not found stays not documented. Every fact carries the span of
the text it was read from.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from imr_rules.cases.reader import is_icd10_code
from imr_rules.common.extras import needs_extra
from imr_rules.intake.findings import OTHER_SPEAKER, code_findings, intake_vocabulary, region_mentions
from imr_rules.intake.items import is_electrodiagnostic, study_mentions
from imr_rules.intake.letters import DRUG_NAMES, Span, map_regions, map_service, parse_date
from imr_rules.intake.terms import BodyRegion, DiagnosisCategory, Procedure, Service

# (label, phrases): each phrase becomes a medspaCy TargetRule with that label.
_TARGETS: dict[str, list[str]] = {
    "FUNCTION": ["functional improvement", "improvement in function", "functional gains", "functional benefit",
                 "improved function", "success", "benefit", "improvement"],
    "MED_GENERIC": ["medication", "medications", "medicines", "medication regimen"],
    "RELIEF": ["relief", "pain relief", "helps", "helped", "helpful", "effective", "reduces pain", "reduced pain",
               "decreases pain", "decreased pain", "efficacy"],
    "UDS": ["urine drug screen", "urine drug screens", "urine drug test", "urine drug testing", "urine toxicology",
            "urine toxicology screen", "UDS", "UDT", "drug screen", "toxicology screen"],
    "CURES": ["CURES", "CURES report", "PDMP", "prescription drug monitoring"],
    "SIDE": ["side effects", "side effect", "adverse effects", "adverse effect"],
    "ABERRANT": ["aberrant behavior", "aberrant behaviors", "aberrant drug behavior", "aberrant drug-taking behavior",
                 "drug seeking", "drug-seeking"],
    "CONSERVATIVE": ["conservative care", "conservative treatment", "conservative treatments",
                     "conservative management", "conservative measures", "conservative therapy"],
    "HEP": ["home exercise program", "home exercises", "home exercise", "HEP", "home program"],
    "GOALS": ["functional goals", "treatment goals", "goals", "functional goal"],
    "SURGERY": ["surgery", "surgical candidate", "candidate for surgery", "surgical intervention",
                "operative intervention", "surgical treatment", "surgical consultation", "surgical procedure"],
}

_AGE_SEX = re.compile(r"(\d{2,3})[- ]year[- ]old\s+(?:\w+\s+)?(male|female|man|woman|gentleman|lady)", re.I)
_PAIN = re.compile(r"(?:pain|rated|rating|level|score)[^.]{0,40}?\b(\d{1,2})(?:\s*(?:-|to)\s*(\d{1,2}))?"
                   r"\s*(?:/\s*10|out of 10|on a (?:10|ten)[- ]point)", re.I)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_RE = (r"(\d{1,2}[/-]\d{1,2}[/-]\d{2,4}|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+"
            r"\d{1,2},?\s+\d{4})")
_RFA = re.compile(r"(?:request for authori[sz]ation|RFA)[^.]{0,40}?(?:dated|of|on)\s+" + _DATE_RE, re.I)
_VISIT = re.compile(r"(?:progress report|evaluation|evaluated|examined|seen|visit|note)[^.]{0,30}?(?:dated|on)\s+"
                    + _DATE_RE, re.I)
_INJURY = re.compile(r"(?:date of injury|injury on|injured on|industrial injury (?:on|of|dated))\s*(?:of\s*)?"
                     + _DATE_RE, re.I)
_NUM_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
              "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18, "twenty": 20, "twenty-four": 24}
_COUNT = r"(\d{1,3}|" + "|".join(_NUM_WORDS) + r")"
_DIAGNOSES = re.compile(r"(?:(?:diagnos(?:is|es|ed)|(?:undergoing|receiving) treatments? for|being treated for)"
                        r"(?:\s+(?:of|include[sd]?|included|were|was|as|with|having))*\s*:?\s*)"
                        r"((?:\d+\.\s)?(?:[^.]|\.(?=\s\d+\.\s)|\.\s(?=\d+\.\s)|\.\d)+)", re.I)
_IMAGING = re.compile(r"\b(MRI|magnetic resonance|x-?rays?|radiographs?|CT scan|CT|computed tomography|"
                      r"EMG|NCS|NCV|nerve conduction)\b", re.I)
_IMAGING_RESULT = re.compile(r"reveal|show|demonstrat|positive|negative|normal|unremarkable|finding|noted|impression",
                             re.I)
_PLANNED = re.compile(r"request|plan|recommend|rule out|ordered|utilization review|authori[sz]|pending|scheduled|"
                      r"not medically necessary|would like|awaiting", re.I)
_NORMAL = re.compile(r"\bnormal\b|unremarkable|\bnegative\b|no (?:acute|significant)|within normal", re.I)
_SURGERY = re.compile(r"(?:status post|s/p|underwent|had|history of)\s+(?:an?\s+)?(?:\w+\s+){0,4}?"
                      r"(fusion|discectomy|laminectomy|microdiscectomy|arthroscop\w*|rotator cuff repair|"
                      r"meniscectomy|ACL reconstruction|knee replacement|total knee arthroplasty|hip replacement|"
                      r"total hip arthroplasty|carpal tunnel release|labral repair|surgery)", re.I)


def _parse_date(text: str) -> dt.date | None:
    """A date written numerically (11/03/2016, 11-3-16) or with the month's name (November 3, 2016)."""
    words = re.fullmatch(r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})", text.strip())
    if words is None:
        return parse_date(text)
    month = words.group(1)[:3].lower()
    if month not in _MONTHS:
        return None
    try:
        return dt.date(int(words.group(3)), _MONTHS.index(month) + 1, int(words.group(2)))
    except ValueError:
        return None


def warm_up() -> None:
    """Build the NLP pipeline now (once per process), so that the first letter does not pay for it."""
    _nlp()


_TREATMENT_GROUPS = frozenset({"active_therapy", "manual_therapy", "passive_modality", "injection", "behavioral",
                               "program"})
"""Service groups whose courses make up the treatment history (equipment, visits, tests and drugs do not)."""


def treatment_phrases() -> dict[str, list[str]]:
    """Service id -> the vocabulary's words for it (label, id, synonyms), for the treatment-history services."""
    vocabulary = intake_vocabulary()
    phrases: dict[str, list[str]] = {}
    for service in vocabulary.ids("services"):
        term = vocabulary.term("services", service)
        if term.group in _TREATMENT_GROUPS:
            words = [re.sub(r"\s*\(.*\)", "", w) for w in (term.label, service.replace("_", " "), *term.synonyms)]
            phrases[service] = [w for w in dict.fromkeys(words) if len(w) > 1]
    return phrases


@lru_cache(maxsize=1)
def _nlp() -> Any:
    """The medspaCy pipeline (sentence splitting, target matcher, ConText), built once per process.

    Sentences are split by spaCy's rule-based sentencizer (punctuation; the tokenizer keeps 'Dr.' and
    dates whole): with PyRuSH the 113 dev letters were extracted the same, at a tenth of the speed.
    """
    with needs_extra("intake"):
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
        import medspacy
        from medspacy.ner import TargetRule

    nlp = medspacy.load(medspacy_enable=["medspacy_target_matcher", "medspacy_context"])
    nlp.add_pipe("sentencizer", first=True)
    matcher = nlp.get_pipe("medspacy_target_matcher")
    matcher.add([TargetRule(phrase, label) for label, phrases in _TARGETS.items() for phrase in phrases])
    matcher.add([TargetRule(phrase, f"TX_{service}") for service, phrases in treatment_phrases().items()
                 for phrase in phrases])
    vocabulary = intake_vocabulary()
    matcher.add([TargetRule(phrase, f"WORK_{status}") for status in vocabulary.ids("work_statuses")
                 for phrase in dict.fromkeys([vocabulary.term("work_statuses", status).label,
                                              *vocabulary.term("work_statuses", status).synonyms])])
    for service, names in DRUG_NAMES.items():
        single = [re.escape(name) for name in names if " " not in name and "#" not in name]
        # A prefix match, so that 'Norco10/325' or 'Naproxen-sodium' written as one token is found too.
        matcher.add([TargetRule(service.value, f"MED_{service.value}",
                                pattern=[{"LOWER": {"REGEX": "^(?:" + "|".join(single) + ")"}}])])
        matcher.add([TargetRule(name, f"MED_{service.value}") for name in names if " " in name or "#" in name])
    return nlp


@dataclass
class Mention:
    """One concept mention with its ConText attributes and its span in the letter text."""

    label: str
    start: int
    end: int
    text: str
    sentence_start: int
    sentence_end: int
    negated: bool
    uncertain: bool

    @property
    def affirmed(self) -> bool:
        """Asserted as present (not negated, not uncertain or hypothetical)."""
        return not self.negated and not self.uncertain


@dataclass
class ExtractedFacts:
    """What the summary documents, ready to go into a case, with provenance spans."""

    age: int | None = None
    sex: str | None = None
    injury_date: dt.date | None = None
    request_date: dt.date | None = None
    request_date_basis: str = ""
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    clinical: dict[str, Any] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    original_requests: list[tuple[Service, int]] = field(default_factory=list)
    certified_visits: list[tuple[Service, int]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    diagnosis_spans: list[tuple[int, int]] = field(default_factory=list)
    diagnosis_details: list[dict[str, str]] = field(default_factory=list)
    treatment_listed: bool = False
    treatment_failed: bool = False
    studies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def diagnosis_regions(self) -> list[BodyRegion]:
        """Body regions of the diagnoses found."""
        return [BodyRegion(d["body_region"]) for d in self.diagnoses if d.get("body_region")]


def normalize(text: str) -> tuple[str, list[int]]:
    """Collapse whitespace runs (PDF line breaks) to one space; return the text and each character's source offset."""
    chars: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        if char.isspace():
            if chars and chars[-1] == " ":
                continue
            char = " "
        chars.append(char)
        where.append(index)
    where.append(len(text))
    return "".join(chars), where


def mentions(text: str, offset: int = 0) -> list[Mention]:
    """Concept mentions of a text with ConText attributes; offsets are shifted by ``offset``."""
    doc = _doc(text)
    found: list[Mention] = []
    for ent in doc.ents:
        uncertain = bool(ent._.is_uncertain or ent._.is_hypothetical or ent._.is_family)
        found.append(Mention(ent.label_, offset + ent.start_char, offset + ent.end_char, ent.text,
                             offset + ent.sent.start_char, offset + ent.sent.end_char,
                             bool(ent._.is_negated), uncertain))
    return found


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUM_WORDS[word.lower()]


def _finding(items: list[Mention]) -> str | None:
    """Present when any mention is affirmed, absent when all certain ones are negated, else None."""
    if any(m.affirmed for m in items):
        return "present"
    if any(m.negated and not m.uncertain for m in items):
        return "absent"
    return None


def _category(description: str) -> DiagnosisCategory:
    lowered = description.lower()
    table = [
        (r"sprain|strain", DiagnosisCategory.sprain_strain),
        (r"radicul|neuritis|neuralgia|sciatica", DiagnosisCategory.neuralgia_neuritis_radiculitis),
        (r"disc|herniat|\bhnp\b|protrusion|bulge", DiagnosisCategory.disc_disorder),
        (r"fracture", DiagnosisCategory.fracture),
        (r"arthritis|arthrosis|degenerative joint", DiagnosisCategory.arthritis),
        (r"myalgia|myositis|myofascial", DiagnosisCategory.myalgia_myositis),
        (r"carpal tunnel|entrapment|cubital tunnel", DiagnosisCategory.nerve_entrapment),
        (r"status post|s/p|post-?op", DiagnosisCategory.postsurgical_status),
        (r"\bcrps\b|complex regional|reflex sympathetic", DiagnosisCategory.crps),
    ]
    for pattern, category in table:
        if re.search(pattern, lowered):
            return category
    return DiagnosisCategory.other


_PROCEDURES: list[tuple[str, str, Procedure]] = [
    ("fusion", "cervical", Procedure.cervical_fusion), ("fusion", "lumbar", Procedure.lumbar_fusion),
    ("discectomy|laminectomy", "cervical", Procedure.cervical_discectomy_laminectomy),
    ("discectomy|laminectomy", "lumbar", Procedure.lumbar_discectomy_laminectomy),
    ("rotator cuff", "shoulder", Procedure.rotator_cuff_repair_arthroscopic),
    ("labral", "shoulder", Procedure.shoulder_labral_repair), ("meniscectomy", "knee", Procedure.knee_meniscectomy),
    ("acl", "knee", Procedure.acl_reconstruction), ("knee (?:replacement|arthroplasty)", "knee",
                                                    Procedure.total_knee_arthroplasty),
    ("hip (?:replacement|arthroplasty)", "hip", Procedure.total_hip_arthroplasty),
    ("carpal tunnel", "wrist_hand", Procedure.carpal_tunnel_release),
]


@lru_cache(maxsize=2)
def _doc(text: str) -> Any:
    """The processed text; the summary is processed once per letter for its mentions and its sentences."""
    return _nlp()(text)


def _sentences(summary: str) -> list[tuple[int, int]]:
    doc = _doc(summary)
    return [(sent.start_char, sent.end_char) for sent in doc.sents]


def extract_facts(text: str, start: int, end: int, ur_denial: dt.date | None = None,
                  requested: frozenset[str] | None = None) -> ExtractedFacts:
    """Clinical facts of the summary ``text[start:end]``; spans are offsets into ``text``.

    ``requested`` names the services of the items under review, when known: a drug of another class
    prescribed at the latest visit is in use, not the request.
    """
    facts = ExtractedFacts()
    summary, where = normalize(text[start:end])
    if not summary.strip():
        return facts

    def span(field_path: str, at: int, stop: int) -> None:
        first, last = start + where[at], start + where[max(stop - 1, at)] + 1
        facts.spans.append(Span(field_path, first, last, text[first:last]))

    match = _AGE_SEX.search(summary)
    if match:
        age = int(match.group(1))
        if 14 <= age <= 110:
            facts.age = age
            span("patient.age", match.start(1), match.end(1))
        word = match.group(2).lower()
        facts.sex = "male" if word in ("male", "man", "gentleman") else "female"
        span("patient.sex", match.start(2), match.end(2))
    injury = _INJURY.search(summary)
    if injury:
        facts.injury_date = _parse_date(injury.group(1))
        span("claim.injury_date", injury.start(1), injury.end(1))
    _request_date(facts, summary, span, ur_denial)
    _diagnoses(facts, summary, span)
    pain = _PAIN.search(summary)
    if pain:
        low = int(pain.group(1))
        high = int(pain.group(2)) if pain.group(2) else low
        if 0 <= low <= high <= 10:
            facts.clinical["pain_score"] = (low + high) / 2 if high != low else low
            span("clinical.pain_score", pain.start(1), pain.end(2) if pain.group(2) else pain.end(1))

    found = mentions(summary)
    by_label: dict[str, list[Mention]] = {}
    for mention in found:
        by_label.setdefault(mention.label, []).append(mention)

    # 'able to return to work with restrictions' states the status (ConText reads 'return' as hypothetical).
    work = [m for m in found if m.label.startswith("WORK_") and not m.negated
            and (not m.uncertain or re.search(r"\breturn(?:ed)? to\b", summary[m.sentence_start:m.start], re.I))
            and not _TREATMENT_HISTORY.search(summary, m.sentence_start, m.sentence_end)]
    if work:  # the status stated last in the summary is the most recent one
        latest = max(work, key=lambda m: m.start)
        facts.clinical["work_status"] = latest.label.removeprefix("WORK_")
        span("clinical.work_status", latest.start, latest.end)
    _prior_treatment(facts, summary, by_label, span)
    _studies(facts, summary, span, ur_denial)
    _surgeries(facts, summary, span)
    _medications(facts, summary, by_label, span, ur_denial, requested)
    _opioid_monitoring(facts, summary, by_label, span)
    _care_and_function(facts, summary, by_label, span)
    _original_requests(facts, summary, span)
    _findings(facts, summary, span, ur_denial)
    return facts


def _findings(facts: ExtractedFacts, summary: str, span: Any, ur_denial: dt.date | None) -> None:
    """Findings coded with the vocabulary's concepts (``intake.findings``), with their spans."""
    dates = _narrative_dates(summary, ur_denial)
    for data, start, end in code_findings(summary, region_mentions, facts.diagnosis_spans,
                                          lambda first, last: _date_at(dates, first, last)):
        span(f"clinical.findings[{len(facts.findings)}]", start, end)
        facts.findings.append(data)


def _request_date(facts: ExtractedFacts, summary: str, span: Any, ur_denial: dt.date | None) -> None:
    rfa = _RFA.search(summary)
    candidates = [(rfa, "request for authorization date")] if rfa else []
    candidates += [(m, "date of the last progress report before the UR decision") for m in
                   reversed(list(_VISIT.finditer(summary)))]
    for match, basis in candidates:
        if match is None:
            continue
        date = _parse_date(match.group(1))
        if date is None or (ur_denial and date > ur_denial) or (facts.injury_date and date < facts.injury_date):
            continue
        facts.request_date, facts.request_date_basis = date, basis
        span("request_date", match.start(1), match.end(1))
        return


def _diagnoses(facts: ExtractedFacts, summary: str, span: Any) -> None:
    match = _DIAGNOSES.search(summary)
    if not match:
        return
    facts.diagnosis_spans.append((match.start(1), match.end(1)))
    body = match.group(1)
    base = match.start(1)
    for part in re.finditer(r"[^,;]+", re.sub(r"\s+\d+\.\s+|\band\b", lambda m: "," + " " * (len(m.group(0)) - 1),
                                              body)):
        raw = part.group(0)
        description = " ".join(re.sub(r"^\s*(?:\d+\.|the|of|:)\s*", "", raw).split()).strip(" .:")
        if len(description) < 3 or len(description) > 120:
            continue
        entry: dict[str, Any] = {"description": description, "category": _category(description).value}
        regions = map_regions(description)
        if len(regions) == 1:
            entry["body_region"] = regions[0].value
        code = _ICD10.search(description)
        if code is not None and is_icd10_code(code.group(1)):
            entry["icd10"] = code.group(1)
        facts.diagnoses.append(entry)
        facts.diagnosis_details.append(_diagnosis_details(description))
        lead = len(raw) - len(raw.lstrip())
        span(f"diagnoses[{len(facts.diagnoses) - 1}]", base + part.start() + lead, base + part.end())


_ICD10 = re.compile(r"\b([A-TV-Z]\d{2}(?:\.\d{1,4}[A-Z]?)?)\b")
_RULE_OUT = re.compile(r"\brule[- ]out\b|\br/o\b", re.I)
_SUSPECTED = re.compile(r"\b(?:possible|probable|suspected|suspect|likely|presumed|questionable|working diagnosis)\b",
                        re.I)
_DIAGNOSIS_SIDE = re.compile(r"\b(left|right|bilateral)\b", re.I)


def _diagnosis_details(description: str) -> dict[str, str]:
    """Status (rule-out, suspected; confirmed by default) and side of one diagnosis, as written."""
    details: dict[str, str] = {}
    if _RULE_OUT.search(description):
        details["status"] = "rule_out"
    elif _SUSPECTED.search(description):
        details["status"] = "suspected"
    sides = {m.group(1).lower() for m in _DIAGNOSIS_SIDE.finditer(description)}
    if len(sides) == 1:
        details["side"] = sides.pop()
    elif sides:
        details["side"] = "bilateral"
    return details


def _prior_treatment(facts: ExtractedFacts, summary: str, by_label: dict[str, list[Mention]], span: Any) -> None:
    treatments: list[dict[str, Any]] = []
    function = by_label.get("FUNCTION", [])
    for label, items in by_label.items():
        if not label.startswith("TX_"):
            continue
        # 'no documentation of functional improvement from physical therapy': the negation is about the
        # improvement, so the therapy was given.
        done = [m for m in items if not m.uncertain and (m.affirmed or _about_response(m, function))
                and not _planned_treatment(summary, m)]
        if not done:
            continue
        index = len(treatments)
        entry: dict[str, Any] = {"type": label.removeprefix("TX_")}
        span(f"clinical.prior_treatment[{index}].type", done[0].start, done[0].end)
        regions = {region for m in done for _, region in region_mentions(_clause(summary, m))}
        if len(regions) == 1:  # 'physical therapy for the left knee'
            entry["body_region"] = regions.pop()
        for m in done:
            window = summary[max(m.sentence_start, m.start - 40):min(m.sentence_end, m.end + 30)]
            count = re.search(_COUNT + r"(?:\s*\(\d+\))?\s+(?:[\w\-()]+\s+){0,3}?(?:sessions|visits|treatments)",
                              window, re.I) or \
                re.search(r"(?:x|times)\s*(\d{1,3})\b", window, re.I)
            if count:
                entry["visits_completed"] = _count(count.group(1))
                at = summary.find(count.group(0), max(m.sentence_start, m.start - 40))
                span(f"clinical.prior_treatment[{index}].visits_completed", at, at + len(count.group(0)))
                break
        same_sentence = [f for f in function if any(f.sentence_start == m.sentence_start for m in done)
                         and not _ABOUT_PAIN.match(summary, f.end)]
        value = _finding(same_sentence)
        if value is not None:
            entry["functional_improvement"] = value
            span(f"clinical.prior_treatment[{index}].functional_improvement", same_sentence[0].start,
                 same_sentence[0].end)
        else:
            unhelpful = next((u for m in done for u in [_NO_HELP.search(summary, m.sentence_start, m.sentence_end)]
                              if u is not None), None)
            if unhelpful is not None:  # 'physical therapy did not help', 'no better despite therapy'
                entry["functional_improvement"] = "absent"
                span(f"clinical.prior_treatment[{index}].functional_improvement", unhelpful.start(), unhelpful.end())
                facts.treatment_failed = True
        treatments.append(entry)
    # 'Prior treatments were not noted' says the history is missing, not that there was none.
    history = next((m for m in _TREATMENT_HISTORY.finditer(summary) if not _UNDOCUMENTED.search(_rest(summary, m))),
                   None)
    whole = _WHOLE_HISTORY.search(summary)
    facts.treatment_listed = whole is not None and not _UNDOCUMENTED.search(_rest(summary, whole))
    denied = [m for label, items in by_label.items() if label.startswith("TX_") for m in items
              if m.negated and not m.uncertain and not _about_response(m, function)
              and not _RECORDS.search(summary[m.sentence_start:m.sentence_end])]
    if treatments or history or denied:
        # A summary that states the treatment to date, or that a treatment was not given, documents
        # the prior treatment: a type it does not name was not given.
        facts.clinical["prior_treatment"] = treatments
        if not treatments:
            first, last = (history.start(), history.end()) if history else (denied[0].start, denied[0].end)
            span("clinical.prior_treatment", first, last)


def _rest(summary: str, match: re.Match[str]) -> str:
    """The text from a match to the end of its sentence."""
    stop = summary.find(".", match.end())
    return summary[match.start():stop if stop >= 0 else len(summary)]


_UNDOCUMENTED = re.compile(r"not (?:been )?(?:noted|documented|provided|available|specified|stated|known)|unknown|"
                           r"unclear", re.I)
_WHOLE_HISTORY = re.compile(r"received the following (?:prior )?treatments?|the only (?:prior )?treatments?|"
                            r"no other (?:prior )?treatments?|"
                            r"treatments? to date (?:has |have )?consisted (?:only )?of", re.I)
"""A summary saying that the treatment it lists is the whole treatment to date (history complete)."""
_TREATMENT_HISTORY = re.compile(r"treatments? (?:to date|rendered|has included|have included|included)|"
                                r"(?:previously |has )?received the following treatments?|"
                                r"(?:prior|previous|past) treatments?|treatment history|has been treated with|"
                                r"treated conservatively with|diagnostic testing to date", re.I)
_ORIGINAL = re.compile(r"([^.]{3,200}?)\s+(?:was|were) the original request", re.I)
_CERTIFIED = re.compile(r"modified[^.]{0,120}?(?:accommodating|certifying|approving|allowing|authori[sz]ing)"
                        r"[^.]{0,60}?\b" + _COUNT + r"\s+(?:sessions?|visits?)\s+(?:of\s+)?([a-z][a-z ]{2,30})", re.I)
_CERTIFIED_FORMS: list[tuple[re.Pattern[str], int, int]] = [
    (_CERTIFIED, 1, 2),
    # 'partially approved the request for 12 visits of chiropractic care as 4 visits' (count, service, count)
    (re.compile(r"(?:partially approved|modified) (?:a|the) request for " + _COUNT + r"\s+(?:sessions?|visits?) of "
                r"([a-z][a-z ]{2,30}?) (?:as|to) " + _COUNT + r"\s+(?:sessions?|visits?)", re.I), 3, 2),
    # 'Six physical therapy sessions for the lumbar spine ... was authorized by the Claims Administrator'
    (re.compile(r"\b" + _COUNT + r"\s+(?:sessions? of |visits? of )?([a-z][a-z ]{2,30}?)\s*(?:sessions?|visits?)?"
                r"(?: for [^.]{0,80}?)? (?:was|were) (?:authorized|certified|approved)", re.I), 1, 2),
    # 'Occupational therapy for three sessions was authorized'
    (re.compile(r"([a-z][a-z ]{2,30}?) for " + _COUNT + r"\s+(?:sessions?|visits?) (?:was|were) "
                r"(?:authorized|certified|approved)", re.I), 2, 1),
    # 'The request for physical therapy had been previously modified to 6 visits'
    (re.compile(r"request for ([a-z][a-z ]{2,30}?) (?:had been |has been |was )(?:previously )?modified to "
                + _COUNT + r"\s+(?:sessions?|visits?)", re.I), 2, 1),
]
"""Visits utilization review certified when it modified a request: (pattern, count group, service group)."""
_MODIFIED = re.compile(r"(?:utilization review|\bUR\b)[^.]{0,80}?modified|"
                       r"modified by (?:the )?(?:utilization review|UR)", re.I)


_NO_HELP = re.compile(r"\bnot (?:been )?help(?:ing|ful)?\b|\bdid not help|\bno (?:benefit|improvement)|"
                      r"without (?:benefit|improvement)|not (?:seemed? to |seem to )?improve|\bdespite\b|"
                      r"\bfailed\b", re.I)
"""A treatment said not to have helped: no functional improvement from it, and conservative care failed."""

# 'improvement in pain' is relief, not functional improvement.
_ABOUT_PAIN = re.compile(r"\s*(?:in|of|with)?\s*(?:his |her |the |their )?(?:\w+\s+)?pain\b", re.I)


def _clause(summary: str, mention: Mention) -> str:
    """The clause of a mention's sentence: between the nearest commas or semicolons around it."""
    sentence = summary[mention.sentence_start:mention.sentence_end]
    at, stop = mention.start - mention.sentence_start, mention.end - mention.sentence_start
    left = max(sentence.rfind(",", 0, at), sentence.rfind(";", 0, at)) + 1
    rights = [i for i in (sentence.find(",", stop), sentence.find(";", stop)) if i >= 0]
    return sentence[left:min(rights) if rights else len(sentence)]


# A negated treatment in a sentence about its records or results says the documentation is missing,
# not that the treatment was not given ('no physical therapy notes were provided').
_RECORDS = re.compile(r"\bnotes?\b|\brecords (?:were|are|was)\b|reports?|results?|response|outcome", re.I)


def _about_response(mention: Mention, function: list[Mention]) -> bool:
    """A negated treatment mention whose sentence also negates an improvement: the negation is the improvement's."""
    return mention.negated and any(f.sentence_start == mention.sentence_start and f.negated for f in function)


def _planned_treatment(summary: str, mention: Mention) -> bool:
    """A treatment mention about a request, plan or authorization rather than treatment given.

    In a sentence listing the treatment to date only the mention's own clause counts, so that
    'treatment has included physical therapy, and acupuncture was recommended' keeps the therapy.
    """
    sentence = summary[mention.sentence_start:mention.sentence_end]
    if _TREATMENT_HISTORY.search(sentence):
        return bool(_PLANNED.search(_clause(summary, mention)))
    return bool(_PLANNED.search(sentence) or re.search(r"remaining|eligible|original", sentence, re.I))


def _certified_forms(facts: ExtractedFacts, summary: str, span: Any) -> None:
    """Visits certified as utilization review stated them ('partially approved ... as 6 sessions')."""
    for pattern, count_group, service_group in _CERTIFIED_FORMS:
        for match in pattern.finditer(summary):
            service = map_service(match.group(service_group))
            if service is not None and not any(s == service for s, _ in facts.certified_visits):
                facts.certified_visits.append((service, _count(match.group(count_group))))
                span("clinical.prior_treatment.visits_authorized", match.start(), match.end())


def _original_requests(facts: ExtractedFacts, summary: str, span: Any) -> None:
    """Visits of the original request when utilization review modified it (certified part of it)."""
    _certified_forms(facts, summary, span)
    if not _MODIFIED.search(summary):
        return
    for match in _ORIGINAL.finditer(summary):
        request = match.group(1)
        service = map_service(request)
        count = re.search(_COUNT + r"\s*\)?\s*(?:\w+\s+){0,2}?(?:sessions|visits|treatments)\b|#\s*(\d{1,3})\b|"
                          r"(?:for|x)\s*" + _COUNT + r"\s+(?:sessions|visits)", request, re.I)
        if service is None or count is None:
            continue
        number = _count(next(g for g in count.groups() if g))
        facts.original_requests.append((service, number))
        span("clinical.prior_treatment.visits_authorized", match.start(1), match.end())


def _studies(facts: ExtractedFacts, summary: str, span: Any, ur_denial: dt.date | None) -> None:
    """Imaging and electrodiagnostic studies already done, one per study named and region it names.

    The study names are the vocabulary's test kinds; a study takes the regions named between it and the
    next study of its sentence. Sentences about a request, a plan or utilization review are not read.
    The result is abnormal or normal where the sentence says so, else left out.
    """
    dates = _narrative_dates(summary, ur_denial)
    found: dict[str, list[dict[str, Any]]] = {"imaging": [], "electrodiagnostics": []}
    seen: set[tuple[str, str]] = set()
    for sent_start, sent_end in _sentences(summary):
        sentence = summary[sent_start:sent_end]
        if _PLANNED.search(sentence) or OTHER_SPEAKER.search(sentence):
            continue
        named = study_mentions(sentence)
        when = _date_at(dates, sent_start, sent_end) if any(sent_start <= at < sent_end for at, _ in dates) else None
        for index, (start, end, kind) in enumerate(named):
            stop = named[index + 1][0] if index + 1 < len(named) else len(sentence)
            begin = named[index - 1][1] if index else 0
            where = _study_regions(sentence, begin, start, end, stop)
            regions = list(dict.fromkeys(region for _, region in region_mentions(where)))
            for region in regions:
                if (kind, region) in seen:
                    continue
                seen.add((kind, region))
                entry: dict[str, Any] = {"kind": kind, "region": region}
                if _NORMAL.search(sentence):
                    entry["abnormal"] = "absent"
                elif _IMAGING_RESULT.search(sentence):
                    entry["abnormal"] = "present"
                if when is not None:
                    entry["date"] = when.isoformat()
                block = "electrodiagnostics" if is_electrodiagnostic(kind) else "imaging"
                span(f"clinical.{block}[{len(found[block])}]", sent_start + start, sent_start + end)
                found[block].append(entry)
    facts.studies = {block: studies for block, studies in found.items() if studies}


_STUDY_OF = re.compile(r"\s*(?:\([^)]*\)\s*)?(?:scans?\s+|studies\s+|testing\s+|imaging\s+)?(?:of|to|for|involving)\b",
                       re.I)


def _study_regions(sentence: str, begin: int, start: int, end: int, stop: int) -> str:
    """The text naming a study's regions: after it ('an x-ray of the ankle'), else before it ('lumbar x-ray')."""
    if _STUDY_OF.match(sentence, end):
        return sentence[end:stop]
    item = max([begin, *(m.end() for m in re.finditer(r"[,;:]|\band\b", sentence[:start]))])
    return sentence[item:start]


def _surgeries(facts: ExtractedFacts, summary: str, span: Any) -> None:
    surgeries: list[dict[str, Any]] = []
    for match in _SURGERY.finditer(summary):
        sentence_end = summary.find(".", match.end())
        sentence = summary[match.start(): sentence_end if sentence_end > 0 else len(summary)]
        if _PLANNED.search(sentence):
            continue
        date_match = re.search(_DATE_RE, sentence)
        date = _parse_date(date_match.group(1)) if date_match else None
        regions = map_regions(sentence)
        if date is None or not regions:
            continue
        region = regions[0]
        procedure = next((proc for pattern, reg, proc in _PROCEDURES
                          if reg == region.value and re.search(pattern, sentence, re.I)), Procedure.other)
        surgeries.append({"procedure": procedure.value, "body_region": region.value, "date": date.isoformat(),
                          "description": " ".join(match.group(0).split())[:80]})
        span(f"clinical.surgeries[{len(surgeries) - 1}]", match.start(), match.end())
    if surgeries:
        facts.clinical["surgeries"] = surgeries


# ---- medications, opioid monitoring, conservative care, function ------------------------------------------------
_IN_USE = re.compile(r"continu|refill|renew|currently|taking|takes|has been|had been|was on|is on|remains|ongoing|"
                     r"using|uses|since|long-term|chronic|maintained|"
                     r"medications? (?:(?:were|was|are|is|have been|had been|noted|documented|to) ){0,3}"
                     r"(?:include|included|consist|consisted|list|listed)|"
                     r"current medications|medication regimen|prescribed medications", re.I)
_SINCE = re.compile(r"since(?: at least)?\s+(?:" + _DATE_RE + r"|(\d{1,2})[/-](\d{4}))", re.I)
_FOR_DURATION = re.compile(_COUNT + r"\s+(weeks?|months?|years?)", re.I)
_LIST_NONE = re.compile(r"no (?:current )?medications|not (?:taking|using|on) any|takes no|no medication", re.I)
_FIRST_TIME = re.compile(r"first[- ]time|new prescription|newly prescribed|initial prescription|started on|"
                         r"trial of|begin|start", re.I)
_DOCUMENTATION_WORDS = re.compile(r"document|record|evidence|discuss|assess|monitor|indicat|noted", re.I)
_ANALGESIA = re.compile(r"\d{1,2}\s*/\s*10\s+(?:with|on)\s+(?:the\s+)?(?:use of\s+)?(?:medications?|opioids?|\w+)"
                        r"[^.]{0,60}?\d{1,2}\s*/\s*10\s+without|\d{1,2}\s*/\s*10\s+without[^.]{0,60}?"
                        r"\d{1,2}\s*/\s*10\s+with", re.I)
_FAILED = re.compile(r"fail|despite|exhaust|refractory|no (?:relief|improvement|benefit)|not (?:respond|improv|help)|"
                     r"persist|unsuccessful|without (?:relief|improvement|benefit)", re.I)
_SURGERY_PLAN = re.compile(r"recommend|plan|schedul|candidate|consider|await|pending|request|propos|referr|"
                           r"would like|wants|wishes|desire", re.I)
_SURGERY_PAST = re.compile(r"underwent|status post|s/p|\bhad\b|history of|prior|previous", re.I)
_AUTHORIZED = re.compile(r"(?:surgery|procedure|repair|arthroscop\w*|fusion|release|decompression|replacement|"
                         r"arthroplasty)[^.]{0,80}?(?:was|were|has been|had been)\s+(?:certified|authorized|approved)",
                         re.I)


def _narrative_dates(summary: str, before: dt.date | None) -> list[tuple[int, dt.date]]:
    """Every date written in the summary with its offset, leaving out dates on or after ``before``."""
    found = []
    for match in re.finditer(_DATE_RE, summary):
        date = _parse_date(match.group(1))
        if date is not None and (before is None or date < before):
            found.append((match.start(), date))
    return found


def _date_at(dates: list[tuple[int, dt.date]], offset: int, sentence_end: int) -> dt.date | None:
    """The date a sentence speaks of: the first date in it, else the last date written before it."""
    inside = [date for at, date in dates if offset <= at < sentence_end]
    if inside:
        return min(inside)
    earlier = [date for at, date in dates if at < offset]
    return earlier[-1] if earlier else None


def _start_date(sentence: str, told: dt.date | None) -> dt.date | None:
    """When a medication began: 'since <date>', 'for N months' before the sentence's date, or that date."""
    since = _SINCE.search(sentence)
    if since:
        if since.group(1):
            return _parse_date(since.group(1))
        month, year = int(since.group(2)), int(since.group(3))
        return dt.date(year, month, 1) if 1 <= month <= 12 and 1990 <= year <= 2100 else None
    duration = _FOR_DURATION.search(sentence)
    if duration and told is not None and re.search(r"\bfor\b|over the (?:last|past)", sentence, re.I):
        days = {"w": 7, "m": 30, "y": 365}[duration.group(2)[0].lower()] * _count(duration.group(1))
        return told - dt.timedelta(days=days)
    return told


def _plausible_start(start: dt.date | None, facts: ExtractedFacts) -> bool:
    """A start date on or before the request and within ten years before the injury."""
    if start is None or (facts.request_date is not None and start > facts.request_date):
        return False
    return facts.injury_date is None or start >= facts.injury_date - dt.timedelta(days=3650)


def _medications(facts: ExtractedFacts, summary: str, by_label: dict[str, list[Mention]], span: Any,
                 ur_denial: dt.date | None, requested: frozenset[str] | None = None) -> None:
    """Medications in use with class, earliest documented use and documented response.

    A drug named only as the request under review is not taken as in use: a sentence about the
    request, the plan or a first prescription, or one about the latest visit before utilization
    review, without words of ongoing use. The list is written when a drug in use is found, or when
    the summary says no medications are taken; otherwise the medications stay not documented.
    """
    dates = _narrative_dates(summary, ur_denial)
    latest = max((date for _, date in dates), default=None)
    relief = by_label.get("RELIEF", []) + by_label.get("FUNCTION", [])
    generic = by_label.get("MED_GENERIC", [])
    medications: dict[str, dict[str, Any]] = {}
    for label, items in by_label.items():
        if not label.startswith("MED_") or label == "MED_GENERIC":
            continue
        for mention in items:
            sentence = summary[mention.sentence_start:mention.sentence_end]
            if mention.uncertain or (mention.negated and not re.search(r"side|adverse", sentence, re.I)):
                continue
            told = _date_at(dates, mention.sentence_start, mention.sentence_end)
            ongoing = bool(_IN_USE.search(sentence))
            maybe_request = requested is None or label.removeprefix("MED_") in requested
            if not ongoing and maybe_request and (_PLANNED.search(sentence) or _FIRST_TIME.search(sentence)
                                                  or (told is not None and latest is not None and told >= latest)):
                continue
            name = mention.text.strip()
            key = re.sub(r"[^a-z]", "", name.lower())[:12]
            index = list(medications).index(key) if key in medications else len(medications)
            entry = medications.setdefault(key, {"name": name[:60], "drug_class": label.removeprefix("MED_")})
            span(f"clinical.medications[{index}].name", mention.start, mention.end)
            start = _start_date(sentence, told)
            if start == told == latest and not _FIRST_TIME.search(sentence) and not re.search(r"prescribed", sentence):
                start = None  # listed at the latest visit only: in use, since when is not documented
            if _plausible_start(start, facts) and start is not None and \
                    ("start_date" not in entry or start.isoformat() < entry["start_date"]):
                entry["start_date"] = start.isoformat()
            near = [r for r in relief if r.sentence_start == mention.sentence_start]
            value = _finding(near)
            if value is not None and entry.get("response") != "present":
                entry["response"] = value
                span(f"clinical.medications[{index}].response", near[0].start, near[0].end)
    general = _finding([r for r in relief if any(g.sentence_start == r.sentence_start for g in generic)])
    for entry in medications.values():
        if "response" not in entry and general is not None:
            entry["response"] = general  # a statement about 'the medications' as a whole
    if medications:
        facts.clinical["medications"] = list(medications.values())
        return
    none = _LIST_NONE.search(summary)
    if none and any(g.negated for g in generic):
        facts.clinical["medications"] = []
        span("clinical.medications", none.start(), none.end())


def _opioid_monitoring(facts: ExtractedFacts, summary: str, by_label: dict[str, list[Mention]], span: Any) -> None:
    """Urine drug screens, CURES checks, side effects and aberrant behaviour assessed, analgesia documented."""
    monitoring: dict[str, str] = {}

    def done(key: str, label: str, negation_means_assessed: bool) -> None:
        for mention in by_label.get(label, []):
            sentence = summary[mention.sentence_start:mention.sentence_end]
            if mention.uncertain or (_PLANNED.search(sentence) and not mention.negated):
                continue
            if mention.negated and (not negation_means_assessed or _DOCUMENTATION_WORDS.search(sentence)):
                value = "absent"  # 'no urine drug screen', 'no documentation of side effects'
            else:
                value = "present"  # 'UDS consistent', 'denies side effects' (so they were asked about)
            if monitoring.get(key) != "present":
                monitoring[key] = value
                span(f"clinical.opioid_monitoring.{key}", mention.start, mention.end)

    done("urine_drug_screen_recent", "UDS", False)
    done("cures_checked", "CURES", False)
    done("adverse_effects_assessed", "SIDE", True)
    done("aberrant_behavior_assessed", "ABERRANT", True)
    analgesia = _ANALGESIA.search(summary)
    if analgesia:
        monitoring["analgesia_documented"] = "present"
        span("clinical.opioid_monitoring.analgesia_documented", analgesia.start(), analgesia.end())
    if monitoring:
        facts.clinical["opioid_monitoring"] = monitoring


def _care_and_function(facts: ExtractedFacts, summary: str, by_label: dict[str, list[Mention]], span: Any) -> None:
    """Failed conservative care, home exercise program, functional deficits and goals, planned or authorized surgery."""
    care: dict[str, str] = {}
    failed = [m for m in by_label.get("CONSERVATIVE", [])
              if _FAILED.search(summary[m.sentence_start:m.sentence_end])
              and not OTHER_SPEAKER.search(summary[m.sentence_start:m.sentence_end])]
    value = _finding(failed)
    if value is not None:
        care["failed"] = value
        span("clinical.conservative_care.failed", failed[0].start, failed[0].end)
    elif facts.treatment_failed:
        care["failed"] = "present"  # a treatment given did not help: symptoms persist despite conservative care
    value = _finding(by_label.get("HEP", []))
    if value is not None:
        care["home_exercise_program"] = value
        span("clinical.conservative_care.home_exercise_program", by_label["HEP"][0].start, by_label["HEP"][0].end)
    if care:
        facts.clinical["conservative_care"] = care
    function: dict[str, str] = {}
    for key, label in (("goals_documented", "GOALS"),):
        value = _finding(by_label.get(label, []))
        if value is not None:
            function[key] = value
            first = by_label[label][0]
            span(f"clinical.functional_status.{key}", first.start, first.end)
    if function:
        facts.clinical["functional_status"] = function
    planned = [m for m in by_label.get("SURGERY", [])
               if _SURGERY_PLAN.search(summary[m.sentence_start:m.sentence_end])
               and not _SURGERY_PAST.search(summary[m.sentence_start:m.sentence_end])]
    value = _finding(planned)
    if value is not None:
        facts.clinical["surgery_planned"] = value
        span("clinical.surgery_planned", planned[0].start, planned[0].end)
    authorized = _AUTHORIZED.search(summary)
    if authorized:
        facts.clinical["surgery_authorized"] = "present"
        span("clinical.surgery_authorized", authorized.start(), authorized.end())
