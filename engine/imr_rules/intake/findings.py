"""Findings of the case summary, coded with the vocabulary's clinical concepts (case format 2).

The phrases are the vocabulary's own: a medspaCy target rule is generated for every synonym (and the
spelled-out id) of every concept in ``rules/vocabulary/concepts/``, so intake and the rules read one
vocabulary; a rule author adds a synonym there and intake finds it. medspaCy's ConText decides whether a
mention is negated ("denies numbness": absent), uncertain or hypothetical ("possible", "rule out", "if":
left out, not documented) or about another person (left out). Sentences reporting what utilization
review or another reviewer said are not the treating physician's findings and are skipped, as is the
diagnosis list (a diagnosis is not a finding, except a red-flag condition or a symptom: sciatica). Each
finding gets the body region (from the vocabulary's region words) and side named nearest to it in its
sentence (else the region named in the sentence before; else ``unknown``), the date the sentence speaks
of, and whether it was examined or reported. Findings written as a grade or a result ('strength 4/5',
'reflexes 1+', 'pulses palpable') are read with the patterns of ``intake.exam_patterns``.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from imr_rules.cases.vocabulary import Vocabulary, vocabulary_of
from imr_rules.intake.exam_patterns import (
    ABNORMAL_EXAM,
    CUFF,
    NEGATION_BEFORE,
    NORMAL_EXAM,
    PATTERN_SOURCE,
    REFLEX_GRADE,
    STRENGTH,
    SYMMETRIC,
)

OTHER_SPEAKER = re.compile(r"utilization review|\bUR\b|\bIMR\b|peer review|(?:the|a|prior) reviewer|"
                            r"non-?certif|(?:was|were) (?:denied|modified)|claims administrator|prior determination|"
                            r"not medically necessary", re.I)
"""A sentence reporting what a reviewer or utilization review said, not the treating physician's findings."""
_EXAMINED = re.compile(r"exam|palpat|inspection|on testing|revealed|demonstrated|\bpositive\b|\bnegative\b|"
                       r"range of motion|strength|reflex|sensation", re.I)
_REPORTED = re.compile(r"complain|report|\bstates?\b|\bstated\b|endorse|\bc/o\b|subjective|describes", re.I)
_WORK_STATUS = re.compile(r"\bwork status\b", re.I)
_EXAM_FOUND = re.compile(r"\b(?:appreciated|elicited|on (?:physical )?exam\w*|exam\w* (?:revealed|showed|noted))\b",
                         re.I)
"""Words saying the examiner found (or did not find) what the sentence names."""
_SIDE = re.compile(r"\b(left|right|bilateral(?:ly)?|both)\b", re.I)
_GRADE = re.compile(r"\b([0-5][+-]?/5)\b")
_RADIATING = re.compile(r"radiat|\binto\b|\bdown (?:the|his|her|to|both)\b", re.I)
_POLARITY = re.compile(r"\b(positive|negative|equivocal|questionable|normal)\b", re.I)
_CLAUSE = re.compile(r"[;,]|\band\b|\bbut\b")
_ROOT = re.compile(r"\b(C[1-8]|L[1-5]|S[1-5])\b")
_DERMATOME = re.compile(r"dermatom", re.I)
_DISTAL_LIMB = frozenset({"upper_extremity", "lower_extremity", "wrist_hand", "ankle_foot"})
"""Regions numbness or tingling in which is the radiating kind (the arm, hand, fingers, leg, foot)."""
_NEGATION_REACH = 12
"""Tokens a negation reaches over at most ('cannot elicit tenderness' does not negate a weakness far after it)."""
_MAX_SIDE_DISTANCE = 60
FindingData = dict[str, Any]
RegionMentions = Callable[[str], list[tuple[int, str]]]


@lru_cache(maxsize=1)
def intake_vocabulary() -> Vocabulary:
    """The shipped vocabulary, looked up once per process (intake asks for it for every mention)."""
    return vocabulary_of()


@lru_cache(maxsize=1)
def _region_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every body region's id, label and synonyms (whole words, plurals), and phrase -> region."""
    vocabulary = intake_vocabulary()
    owner: dict[str, str] = {}
    for region in vocabulary.ids("body_regions"):
        if vocabulary.region_scope_any(region):
            continue
        term = vocabulary.term("body_regions", region)
        for name in (region.replace("_", " "), term.label, *term.synonyms):
            owner.setdefault(name.lower(), region)
    names = sorted(owner, key=len, reverse=True)
    alternatives = "|".join(re.escape(n[:-1]) + "(?:y|ies)" if n.endswith("y") else re.escape(n) + "(?:s|es)?"
                            for n in names)
    return re.compile(r"\b(?:" + alternatives + r")\b|\b[CTLS]\d{1,2}\b", re.I), owner


def region_mentions(text: str) -> list[tuple[int, str]]:
    """(offset, region id) of every body region a text names, with the vocabulary's words or a root (L5, C6)."""
    pattern, owner = _region_pattern()
    vocabulary = intake_vocabulary()
    found = []
    for match in pattern.finditer(text):
        word = match.group(0).lower()
        singular = (word, word.removesuffix("s"), word.removesuffix("es"), re.sub(r"ies$", "y", word))
        region = next((owner[w] for w in singular if w in owner), None) or \
            vocabulary.region_of_root(match.group(0).upper())
        if region is not None:
            found.append((match.start(), region))
    return found


@dataclass(frozen=True)
class ConceptMention:
    """One mention of a vocabulary concept with its ConText attributes (offsets into the summary)."""

    concept: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    negated: bool
    uncertain: bool


def concept_phrases(vocabulary: Vocabulary) -> dict[str, list[str]]:
    """Concept id -> the phrases that name it: its synonyms and its id spelled out ('muscle spasm')."""
    owner: dict[str, str] = {}
    for concept in vocabulary.ids("concepts"):
        term = vocabulary.term("concepts", concept)
        for name in [concept.replace("_", " "), *term.synonyms]:
            key = name.lower()
            # A phrase two concepts share names the concept it spells out, else the first listed.
            if len(key) > 2 and (key not in owner or key == concept.replace("_", " ")):
                owner[key] = concept
    phrases: dict[str, list[str]] = {}
    for name, concept in owner.items():
        phrases.setdefault(concept, []).append(name)
    return phrases


@lru_cache(maxsize=1)
def _pipeline() -> Any:
    """Sentences, the vocabulary's concept rules and ConText; built once per process."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    import medspacy
    from medspacy.context import ConTextRule
    from medspacy.ner import TargetRule

    nlp = medspacy.load(medspacy_enable=["medspacy_target_matcher", "medspacy_context"])
    nlp.add_pipe("sentencizer", first=True)
    # 'no range of motion restrictions with guarding noted': a negation stops at 'with' (what follows is found)
    nlp.get_pipe("medspacy_context").add([ConTextRule("with", "TERMINATE", direction="TERMINATE")])
    matcher = nlp.get_pipe("medspacy_target_matcher")
    matcher.add([TargetRule(phrase, concept) for concept, names in concept_phrases(intake_vocabulary()).items()
                 for phrase in names])
    return nlp


def concept_mentions(summary: str) -> list[ConceptMention]:
    """Every concept mention of the summary, with negation and uncertainty from ConText.

    A negation counts only within a few tokens of the mention: in a long run of examination findings,
    'cannot elicit tenderness' does not negate a weakness named many findings later.
    """
    doc = _pipeline()(summary)
    return [ConceptMention(ent.label_, ent.start_char, ent.end_char, ent.sent.start_char, ent.sent.end_char,
                           bool(ent._.is_negated) and _negation_near(ent),
                           bool(ent._.is_uncertain or ent._.is_hypothetical or ent._.is_family))
            for ent in doc.ents]


def _negation_near(ent: Any) -> bool:
    """Whether a negation modifier of the mention lies within :data:`_NEGATION_REACH` tokens of it."""
    for modifier in ent._.modifiers:
        if modifier.category != "NEGATED_EXISTENCE":
            continue
        start, end = modifier.modifier_span
        gap = ent.start - end if end <= ent.start else start - ent.end
        if gap <= _NEGATION_REACH:
            return True
    return False


def _compatible(vocabulary: Vocabulary, concept: str, region: str) -> bool:
    """Whether the concept may be found on the region (a concept restricted to some regions)."""
    allowed = vocabulary.term("concepts", concept).regions
    return not allowed or any(a in vocabulary.regions_up(region) or region in vocabulary.regions_up(a)
                              for a in allowed)


def _clause(summary: str, mention: ConceptMention) -> tuple[int, int]:
    """The part of the mention's sentence between semicolons (a diagnosis of a list, one finding of several)."""
    start = summary.rfind(";", mention.sentence_start, mention.start) + 1 or mention.sentence_start
    end = summary.find(";", mention.end, mention.sentence_end)
    return max(start, mention.sentence_start), mention.sentence_end if end < 0 else end


def _region(vocabulary: Vocabulary, summary: str, mention: ConceptMention, regions: list[tuple[int, str]]) -> str:
    """The region named nearest the mention in its list item, clause or sentence, else the last one named before."""
    item_start, item_end = _list_item(summary, mention)
    item = [(abs(at - mention.start), region) for at, region in regions if item_start <= at < item_end]
    clause_start, clause_end = _clause(summary, mention)
    clause = [(abs(at - mention.start), region) for at, region in regions if clause_start <= at < clause_end]
    inside = [(abs(at - mention.start), region) for at, region in regions
              if mention.sentence_start <= at < mention.sentence_end]
    before = [(mention.start - at, region) for at, region in regions if at < mention.sentence_start]
    allowed = vocabulary.term("concepts", mention.concept).regions
    for candidates in (sorted(item), sorted(clause), sorted(inside), sorted(before)[:1]):
        for _, region in candidates:
            if not _compatible(vocabulary, mention.concept, region):
                continue
            if len(allowed) == 1 and region in vocabulary.regions_up(allowed[0]):
                return allowed[0]  # 'the leg' for a McMurray test: the knee, the one region it applies to
            return region
    return allowed[0] if len(allowed) == 1 else "unknown"


def _side(sentence: str, at: int) -> str | None:
    """The side written closest to offset ``at`` of the sentence, within a few words."""
    near = [(abs(m.start() - at), m.group(1).lower()) for m in _SIDE.finditer(sentence)]
    near = [item for item in near if item[0] <= _MAX_SIDE_DISTANCE]
    if not near:
        return None
    word = min(near)[1]
    return "bilateral" if word.startswith(("bilateral", "both")) else word


def _source(sentence: str) -> str | None:
    if _EXAMINED.search(sentence):
        return "examination"
    return "history" if _REPORTED.search(sentence) else None


def code_findings(summary: str, regions: RegionMentions, skip: list[tuple[int, int]],
                  sentence_date: Callable[[int, int], dt.date | None]) -> list[tuple[FindingData, int, int]]:
    """The findings of the summary as case-format data, each with the span it was read from.

    ``regions`` lists (offset, region) of every body region named in a text; ``skip`` spans are not
    read (the diagnosis list); ``sentence_date`` gives the date a sentence speaks of.
    """
    vocabulary = intake_vocabulary()
    named = regions(summary)
    found: dict[tuple[str, str | None, str | None, str], tuple[FindingData, int, int]] = {}
    for mention in concept_mentions(summary):
        listed = any(start <= mention.start < end for start, end in skip)
        if listed and not vocabulary.concepts_up(mention.concept) & _LISTED_FINDINGS:
            continue  # a diagnosis is not a finding, unless it names a red-flag condition or a symptom (sciatica)
        # In a diagnosis list, 'possible' qualifies its own diagnosis only, not the ones after it.
        if _diagnosis_uncertain(summary, mention) if listed else mention.uncertain:
            continue
        sentence = summary[mention.sentence_start:mention.sentence_end]
        if OTHER_SPEAKER.search(sentence):
            continue
        if _WORK_STATUS.search(sentence) and "functional_deficit" in vocabulary.concepts_up(mention.concept):
            continue  # 'the work status was "unable to work"' is the work status, recorded as such
        concept = mention.concept
        limb = _distal_limb(vocabulary, summary, mention, named) if concept == "paresthesia" else None
        if concept == "paresthesia" and _EXAM_FOUND.search(sentence) and not _REPORTED.search(sentence):
            concept, limb = "sensory_loss", None  # 'no numbness was appreciated on the arm': an examination finding
        if concept == "paresthesia" and (_RADIATING.search(sentence) or limb is not None):
            concept = "radiating_paresthesia"  # numbness said to radiate, or felt in the arm, hand, leg or foot
        if concept == "suspected_fracture_or_dislocation":
            if _EQUIPMENT.match(summary, mention.end):
                continue  # a fracture boot is equipment
            if listed or _DIAGNOSED.search(sentence):
                continue  # a fracture diagnosed or under treatment is a diagnosis, not a suspicion to work up
            if _IMAGING.search(sentence) and vocabulary.has("concepts", "imaging_fracture"):
                concept = "imaging_fracture"  # 'the x-ray showed no fracture' is a finding of the image
        term = vocabulary.term("concepts", concept)
        status, stated = _test_result(term.label, sentence, mention.start - mention.sentence_start,
                                      mention.end - mention.sentence_start)
        if status is None:
            continue
        if mention.negated and not stated:  # 'no swelling, with positive Tinel's': the test's own word wins
            status = "absent"
        data: FindingData = {"concept": concept, "status": status}
        if term.scope != "patient":
            data["region"] = limb or _region(vocabulary, summary, mention, named)
            side = _side(sentence, mention.start - mention.sentence_start)
            if side is not None:
                data["side"] = side
        source = "imaging" if concept == "imaging_fracture" else _source(sentence)
        if source is not None:
            data["source"] = source
        when = sentence_date(mention.sentence_start, mention.sentence_end)
        if when is not None:
            data["date"] = when.isoformat()
        grade = _GRADE.search(sentence) if term.value == "grade" and not mention.negated else None
        if grade is not None and grade.group(1) != "5/5":
            data["value"] = grade.group(1)
        _dermatomal(data, summary, mention)
        key = (data["concept"], data.get("region"), data.get("side"), data["status"])
        found.setdefault(key, (data, mention.start, mention.end))
        for other in _other_side_result(data, sentence, mention):
            found.setdefault((other["concept"], other.get("region"), other.get("side"), other["status"]),
                             (other, mention.start, mention.end))
    for data, start, end in [*_strength_grades(vocabulary, summary, named, sentence_date),
                             *_reflex_grades(vocabulary, summary, named, sentence_date),
                             *_normal_examination(vocabulary, summary, named, sentence_date)]:
        found.setdefault((data["concept"], data.get("region"), data.get("side"), data["status"]), (data, start, end))
    return list(found.values())


def _distal_limb(vocabulary: Vocabulary, summary: str, mention: ConceptMention,
                 named: list[tuple[int, str]]) -> str | None:
    """The arm, hand, leg or foot a symptom is felt in: named right after it, else nearest in its sentence."""
    after = _WHERE_AFTER.match(summary, mention.end)
    if after is not None:  # 'numbness at the back of the left arm', 'no paresthesia in the right hand'
        limb = next((region for at, region in named
                     if mention.end <= at < after.end() and region in _DISTAL_LIMB), None)
        if limb is not None:
            return limb
    inside = [(at, region) for at, region in named if mention.sentence_start <= at < mention.sentence_end]
    nearest = _region(vocabulary, summary, mention, inside) if inside else None
    return nearest if nearest in _DISTAL_LIMB else None


_WHERE_AFTER = re.compile(r"\s+(?:in|of|about|at|to|into|involving|along|over|on)\b[^.;,]{0,40}", re.I)
"""The place phrase written right after a symptom ('in the right hand', 'at the back of the left arm')."""


def _dermatomal(data: FindingData, summary: str, mention: ConceptMention) -> None:
    """Sensory loss present in a dermatome or at a named root is the dermatomal kind (with its root)."""
    if data["concept"] != "sensory_loss" or data["status"] != "present":
        return
    start, end = _clause(summary, mention)
    root = _ROOT.search(summary, start, end)
    if root is None and not _DERMATOME.search(summary, start, end):
        return
    data["concept"] = "dermatomal_sensory_loss"
    if root is not None:
        data["root"] = root.group(1).upper()


_OTHER_SIDE = re.compile(r"\s*(?:,|;|\band\b|\bbut\b)\s*(?:\w+\s+){0,2}?(left|right)\b(?:\s+side)?\s+(?:is\s+|was\s+)?"
                         r"(positive|negative)\b|\s*(?:,|;|\band\b|\bbut\b)\s*(positive|negative)\s+(?:on the\s+)?"
                         r"(left|right)\b", re.I)
"""The other side's result right after a test's own clause (matched at the clause's end)."""


def _other_side_result(data: FindingData, sentence: str, mention: ConceptMention) -> list[FindingData]:
    """A test's result on the other side written right after its own ('on the left is positive and on the right
    is negative')."""
    if "side" not in data or data["side"] not in ("left", "right"):
        return []
    offset = mention.end - mention.sentence_start
    clause_end = next((m.start() for m in _CLAUSE.finditer(sentence, offset)), len(sentence))
    match = _OTHER_SIDE.match(sentence, clause_end)
    if match is None:
        return []
    side = (match.group(1) or match.group(4)).lower()
    word = (match.group(2) or match.group(3)).lower()
    if side == data["side"]:
        return []
    return [{**data, "side": side, "status": "present" if word == "positive" else "absent"}]


_EQUIPMENT = re.compile(r"\s*(?:boot|brace|walker|splint)", re.I)
_DIAGNOSED = re.compile(r"\bdiagnos[ei]s\b|\bdiagnosed\b|\b(?:undergoing |under |receiving )?treatment for\b|"
                        r"\btreated for\b|\bstatus post\b|\bs/p\b", re.I)
"""A sentence naming diagnoses or conditions already treated (a fracture there is known, not suspected)."""
_IMAGING = re.compile(r"x-?rays?|radiograph|\bMRI\b|\bCT\b|\bscan\b|imaging", re.I)
_LISTED_FINDINGS = frozenset({"red_flag", "radicular_symptoms", "paresthesia"})
"""Concepts a diagnosis list documents as findings: red-flag conditions and symptoms named as diagnoses."""
_LIST_ITEM = re.compile(r"[,;]|\band\b")
_UNCERTAIN_DIAGNOSIS = re.compile(r"\b(?:possible|probable|suspected|suspect|likely|rule[- ]out|r/o|questionable)\b",
                                  re.I)


def _list_item(summary: str, mention: ConceptMention) -> tuple[int, int]:
    """The part of the mention's sentence between commas, semicolons or 'and' (one item of a list)."""
    start = max((m.end() for m in _LIST_ITEM.finditer(summary, mention.sentence_start, mention.start)),
                default=mention.sentence_start)
    end = next((m.start() for m in _LIST_ITEM.finditer(summary, mention.end, mention.sentence_end)),
               mention.sentence_end)
    return start, end


def _diagnosis_uncertain(summary: str, mention: ConceptMention) -> bool:
    """Whether the mention's own item of a diagnosis list is qualified as possible or to be ruled out."""
    start, end = _list_item(summary, mention)
    return bool(_UNCERTAIN_DIAGNOSIS.search(summary, start, end))


_TEST_LIST_RESULT = re.compile(r"(?:\s*(?:,|\band\b)\s*(?:and\s+)?(?:a\s+|the\s+)?[\w' -]{1,40}?"
                               r"\b(?:test|sign|maneuver)s?)+\s+(?:was|were|are|is)\s+(?:all\s+|both\s+)?"
                               r"(?:positive|negative|equivocal|normal)\b", re.I)
"""The rest of a list of tests whose one result is written after the last of them."""


def _test_result(label: str, sentence: str, start: int, end: int) -> tuple[str | None, bool]:
    """A test's result from the polarity word of its clause ('negative straight leg raise': absent).

    Only for concepts the vocabulary labels as a positive test or sign; others are present as mentioned.
    None when the result is equivocal or questionable (not documented). The flag says whether the clause
    itself states the result.
    """
    if not label.lower().startswith("positive"):
        return "present", False
    clause_start = max((m.end() for m in _CLAUSE.finditer(sentence, 0, start)), default=0)
    clause_end = next((m.start() for m in _CLAUSE.finditer(sentence, end)), len(sentence))
    words = [(0 if m.start() >= end else 1, abs(m.start() - start), m.group(1).lower())
             for m in _POLARITY.finditer(sentence, clause_start, clause_end)]
    stated = bool(words)
    if not words:  # a list of tests sharing one result: 'a negative Neer's test, Hawkins' test, and Speed's test'
        words = [(1, start - m.start(), m.group(1).lower()) for m in _POLARITY.finditer(sentence, 0, start)]
    # '..., Tinel's sign and Allen's sign were negative': the result written after the list's last test
    if not words and _TEST_LIST_RESULT.match(sentence, clause_end):
        words = [(0, 0, m.group(1).lower()) for m in _POLARITY.finditer(sentence, clause_end)][:1]
    if not words:
        return "present", False
    word = min(words)[2]
    return {"positive": "present", "negative": "absent", "normal": "absent"}.get(word), stated


def _normal_examination(vocabulary: Vocabulary, summary: str, named: list[tuple[int, str]],
                        sentence_date: Callable[[int, int], dt.date | None]) -> list[tuple[FindingData, int, int]]:
    """Findings stated as an examination's result: 'sensation was intact' (absent), 'reflex decreased' (present)."""
    found = []
    tables = [(pattern, concept, "absent") for pattern, concept in NORMAL_EXAM]
    tables += [(pattern, concept, "present") for pattern, concept in ABNORMAL_EXAM]
    for pattern, concept, status in tables:
        for match in pattern.finditer(summary):
            first = summary.rfind(". ", 0, match.start()) + 1
            last = summary.find(". ", match.end())
            last = len(summary) if last < 0 else last + 1
            if OTHER_SPEAKER.search(summary[first:last]):
                continue
            found_status = status
            if status == "present" and NEGATION_BEFORE.search(summary, max(first, match.start() - 60), match.start()):
                found_status = "absent"
            mention = ConceptMention(concept, match.start(), match.end(), first, last, found_status == "absent", False)
            within = [region for at, region in named if match.start() <= at < match.end()]
            data: FindingData = {"concept": concept, "status": found_status, "source": PATTERN_SOURCE.get(concept,
                                                                                                  "examination"),
                                 "region": within[-1] if within and concept == "radicular_symptoms"
                                 else _region(vocabulary, summary, mention, named)}
            side = _side(summary[first:last], match.start() - first)
            if side is not None:
                data["side"] = side
            when = sentence_date(first, last)
            if when is not None:
                data["date"] = when.isoformat()
            _dermatomal(data, summary, mention)
            found.append((data, match.start(), match.end()))
    return found




def _reflex_grades(vocabulary: Vocabulary, summary: str, named: list[tuple[int, str]],
                   sentence_date: Callable[[int, int], dt.date | None]) -> list[tuple[FindingData, int, int]]:
    """Reflexes graded 0-4: 0 to 1+ is a reflex change (unless equal on both sides: a grade only), 2 or 2+ none."""
    found = []
    for match in REFLEX_GRADE.finditer(summary):
        grade = match.group(1) or match.group(2)
        first = summary.rfind(". ", 0, match.start()) + 1
        last = summary.find(". ", match.end())
        last = len(summary) if last < 0 else last + 1
        sentence = summary[first:last]
        if OTHER_SPEAKER.search(sentence) or grade[0] in "34":
            continue  # brisk reflexes are not graded here (an upper motor neuron sign needs more than a grade)
        item_end = next((m.start() for m in re.finditer(r"[,;]", summary[match.end():last])), last - match.end())
        symmetric = SYMMETRIC.search(summary, match.start(), match.end() + item_end)
        if grade[0] in "01" and symmetric:
            continue
        status = "present" if grade[0] in "01" else "absent"
        mention = ConceptMention("reflex_change", match.start(), match.end(), first, last, status == "absent", False)
        data: FindingData = {"concept": "reflex_change", "status": status, "source": "examination",
                             "region": _region(vocabulary, summary, mention, named)}
        side = _side(sentence, match.start() - first)
        if side is not None:
            data["side"] = side
        when = sentence_date(first, last)
        if when is not None:
            data["date"] = when.isoformat()
        found.append((data, match.start(), match.end()))
    return found


def _strength_grades(vocabulary: Vocabulary, summary: str, named: list[tuple[int, str]],
                     sentence_date: Callable[[int, int], dt.date | None]) -> list[tuple[FindingData, int, int]]:
    """Motor strength written as a grade: below 5/5 is motor weakness present (with its grade), 5/5 absent."""
    found = []
    for match in STRENGTH.finditer(summary):
        grade = f"{next(group for group in match.groups() if group)}/5"
        first = summary.rfind(". ", 0, match.start()) + 1
        last = summary.find(". ", match.end())
        last = len(summary) if last < 0 else last + 1
        sentence = summary[first:last]
        if OTHER_SPEAKER.search(sentence):
            continue
        # Rotator cuff strength tests the tendon, not a nerve: a rotator cuff test's result.
        concept = "rotator_cuff_test" if CUFF.search(summary, max(first, match.start() - 20), match.end()) \
            else "motor_weakness"
        mention = ConceptMention(concept, match.start(), match.end(), first, last, False, False)
        data: FindingData = {"concept": concept, "status": "absent" if grade == "5/5" else "present",
                             "region": _region(vocabulary, summary, mention, named), "source": "examination"}
        side = _side(sentence, match.start() - first)
        if side is not None:
            data["side"] = side
        if grade != "5/5":
            data["value"] = grade
        when = sentence_date(first, last)
        if when is not None:
            data["date"] = when.isoformat()
        found.append((data, match.start(), match.end()))
    return found
