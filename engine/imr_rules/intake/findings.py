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
of, and whether it was examined or reported.
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

OTHER_SPEAKER = re.compile(r"utilization review|\bUR\b|\bIMR\b|peer review|(?:the|a|prior) reviewer|"
                            r"non-?certif|(?:was|were) (?:denied|modified)|claims administrator|prior determination|"
                            r"not medically necessary", re.I)
"""A sentence reporting what a reviewer or utilization review said, not the treating physician's findings."""
_EXAMINED = re.compile(r"exam|palpat|inspection|on testing|revealed|demonstrated|\bpositive\b|\bnegative\b|"
                       r"range of motion|strength|reflex|sensation", re.I)
_REPORTED = re.compile(r"complain|report|\bstates?\b|\bstated\b|endorse|\bc/o\b|subjective|describes", re.I)
_SIDE = re.compile(r"\b(left|right|bilateral(?:ly)?|both)\b", re.I)
_GRADE = re.compile(r"\b([0-5][+-]?/5)\b")
_GRADE_OF_5 = r"([0-5][+-]?)\s*(?:/|out of|of|-)\s*5\b"
_STRENGTH = re.compile(r"\b(?:strength|motor (?:exam\w*|testing|power))\b[^.;]{0,40}?\b" + _GRADE_OF_5 + "|"
                       r"\b" + _GRADE_OF_5 + r"\s+(?:motor\s+)?strength\b", re.I)
_RADIATING = re.compile(r"radiat|\binto\b|\bdown (?:the|his|her|to|both)\b", re.I)
_POLARITY = re.compile(r"\b(positive|negative|equivocal|questionable|normal)\b", re.I)
_CLAUSE = re.compile(r"[;,]|\band\b|\bbut\b")
_NORMAL_EXAM: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:sensation|sensory (?:exam\w*|testing))\s+(?:\w+\s+){0,2}?(?:intact|normal|grossly intact|good)|"
                r"\b(?:intact|normal) sensation", re.I), "sensory_loss"),
    (re.compile(r"\b(?:normal|full) (?:motor )?strength|\bstrength (?:\w+\s+){0,2}?(?:normal|intact|full)\b", re.I),
     "motor_weakness"),
    (re.compile(r"\breflexes (?:\w+\s+){0,2}?(?:normal|symmetric\w*|equal|intact|2\+)|\b(?:normal|symmetric\w*|equal) "
                r"(?:deep tendon )?reflexes", re.I), "reflex_change"),
]
_ABNORMAL_EXAM: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bstrength (?:was |is |were |are )?(?:decreased|diminished|reduced)\b", re.I), "motor_weakness"),
    (re.compile(r"\breflex(?:es)? (?:was |is |were |are )?(?:decreased|diminished|absent|reduced)\b|"
                r"\b(?:decreased|diminished|absent|reduced) (?:\w+\s+){0,3}?reflex(?:es)?\b", re.I), "reflex_change"),
]
"""Statements of an abnormal examination written around the concept ('grip strength was decreased')."""
"""Statements of a normal examination and the concept each documents as absent (intact sensation: no sensory loss)."""
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
    from medspacy.ner import TargetRule

    nlp = medspacy.load(medspacy_enable=["medspacy_target_matcher", "medspacy_context"])
    nlp.add_pipe("sentencizer", first=True)
    matcher = nlp.get_pipe("medspacy_target_matcher")
    matcher.add([TargetRule(phrase, concept) for concept, names in concept_phrases(intake_vocabulary()).items()
                 for phrase in names])
    return nlp


def concept_mentions(summary: str) -> list[ConceptMention]:
    """Every concept mention of the summary, with negation and uncertainty from ConText."""
    doc = _pipeline()(summary)
    return [ConceptMention(ent.label_, ent.start_char, ent.end_char, ent.sent.start_char, ent.sent.end_char,
                           bool(ent._.is_negated),
                           bool(ent._.is_uncertain or ent._.is_hypothetical or ent._.is_family))
            for ent in doc.ents]


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
        concept = mention.concept
        if concept == "paresthesia" and _RADIATING.search(sentence):
            concept = "radiating_paresthesia"  # numbness or tingling said to radiate is the radiating kind
        if concept == "suspected_fracture_or_dislocation":
            if _EQUIPMENT.match(summary, mention.end):
                continue  # a fracture boot is equipment
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
            data["region"] = _region(vocabulary, summary, mention, named)
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
        key = (data["concept"], data.get("region"), data.get("side"), data["status"])
        found.setdefault(key, (data, mention.start, mention.end))
    for data, start, end in [*_strength_grades(vocabulary, summary, named, sentence_date),
                             *_normal_examination(vocabulary, summary, named, sentence_date)]:
        found.setdefault((data["concept"], data.get("region"), data.get("side"), data["status"]), (data, start, end))
    return list(found.values())


_EQUIPMENT = re.compile(r"\s*(?:boot|brace|walker|splint)", re.I)
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
    if not words:
        return "present", False
    word = min(words)[2]
    return {"positive": "present", "negative": "absent", "normal": "absent"}.get(word), stated


def _normal_examination(vocabulary: Vocabulary, summary: str, named: list[tuple[int, str]],
                        sentence_date: Callable[[int, int], dt.date | None]) -> list[tuple[FindingData, int, int]]:
    """Findings stated as an examination's result: 'sensation was intact' (absent), 'reflex decreased' (present)."""
    found = []
    tables = [(pattern, concept, "absent") for pattern, concept in _NORMAL_EXAM]
    tables += [(pattern, concept, "present") for pattern, concept in _ABNORMAL_EXAM]
    for pattern, concept, status in tables:
        for match in pattern.finditer(summary):
            first = summary.rfind(". ", 0, match.start()) + 1
            last = summary.find(". ", match.end())
            last = len(summary) if last < 0 else last + 1
            if OTHER_SPEAKER.search(summary[first:last]):
                continue
            mention = ConceptMention(concept, match.start(), match.end(), first, last, status == "absent", False)
            data: FindingData = {"concept": concept, "status": status, "source": "examination",
                                 "region": _region(vocabulary, summary, mention, named)}
            side = _side(summary[first:last], match.start() - first)
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
    for match in _STRENGTH.finditer(summary):
        grade = f"{match.group(1) or match.group(2)}/5"
        first = summary.rfind(". ", 0, match.start()) + 1
        last = summary.find(". ", match.end())
        last = len(summary) if last < 0 else last + 1
        sentence = summary[first:last]
        if OTHER_SPEAKER.search(sentence):
            continue
        mention = ConceptMention("motor_weakness", match.start(), match.end(), first, last, False, False)
        data: FindingData = {"concept": "motor_weakness", "status": "absent" if grade == "5/5" else "present",
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
