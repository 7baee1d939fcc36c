"""Encoding hints: free-text facts of a case that name a finding the rules could read.

An encoder who cannot place a fact writes it under ``clinical.unmapped_facts``; no rule reads that list, so
a "positive McMurray test" kept there leaves the knee MRI criterion "not documented". This module looks
for the vocabulary's concept names and synonyms in those texts and offers each match as a warning with
its file and line, and the finding to write instead. It never changes the case: whether the text really
is a finding of this patient (and not UR's statement, a family history or a plan) is the encoder's call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from imr_rules.cases.model import Case
from imr_rules.cases.vocabulary import Term, Vocabulary, vocabulary_of
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.yaml_source import SourceDocument, load_yaml

MIN_NAME_LENGTH = 4
"""Names shorter than this (``PT``, ``SLR``) match too much free text to be offered."""

_NEGATED = re.compile(r"^\s*(no|not|without|absent|normal)\b|\b(denies|denied|negative)\b|\bnot (present|seen)\b",
                      re.IGNORECASE)


@dataclass(frozen=True)
class ConceptMatch:
    """A concept whose name appears in a free-text fact, and the name that matched."""

    concept: str
    name: str
    negated: bool


_PATTERNS: dict[int, tuple[Vocabulary, tuple[tuple[re.Pattern[str], Term, str], ...]]] = {}


def _patterns(vocabulary: Vocabulary) -> tuple[tuple[re.Pattern[str], Term, str], ...]:
    """One whole-word, case-insensitive pattern per concept name, longest names first (built once)."""
    cached = _PATTERNS.get(id(vocabulary))
    if cached is not None and cached[0] is vocabulary:
        return cached[1]
    names = [(name, term) for term in vocabulary.terms.get("concepts", {}).values()
             for name in {term.label, *term.synonyms} if len(name) >= MIN_NAME_LENGTH]
    names.sort(key=lambda pair: -len(pair[0]))
    patterns = tuple((re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE), term, name)
                     for name, term in names)
    _PATTERNS[id(vocabulary)] = (vocabulary, patterns)
    return patterns


def concept_matches(text: str, vocabulary: Vocabulary) -> list[ConceptMatch]:
    """The concepts named in ``text``, each once, by its longest matching name; overlapping names skipped."""
    taken: list[tuple[int, int]] = []
    found: dict[str, ConceptMatch] = {}
    negated = bool(_NEGATED.search(text))
    for pattern, term, name in _patterns(vocabulary):
        for hit in pattern.finditer(text):
            if term.id in found or any(hit.start() < end and start < hit.end() for start, end in taken):
                continue
            taken.append((hit.start(), hit.end()))
            found[term.id] = ConceptMatch(term.id, name, negated)
    return list(found.values())


def unmapped_fact_hints(case: Case, document: SourceDocument, vocabulary: Vocabulary) -> list[Diagnostic]:
    """A warning for each unmapped fact that names a vocabulary concept, with the finding to write."""
    hints = []
    for index, text in enumerate(case.clinical.unmapped_facts):
        matches = concept_matches(text, vocabulary)
        if not matches:
            continue
        path = ("clinical", "unmapped_facts", index)
        named = ", ".join(f"{m.concept} ('{m.name}')" for m in matches)
        status = "absent" if matches[0].negated else "present"
        example = f"{{concept: {matches[0].concept}, status: {status}, region: ..., source: examination}}"
        hints.append(Diagnostic(
            document.name, document.line_of(path), f"clinical.unmapped_facts[{index}]",
            f"'{text}' names a finding the rules can read: {named}",
            f"if the record documents it for this patient, write it under clinical.findings, e.g. {example}; "
            "keep it here if it is a plan, UR's statement, another person's history or not a finding",
            severity="warning"))
    return hints


def file_hints(path: Path, vocabulary: Vocabulary | None = None) -> list[Diagnostic]:
    """The encoding hints of a valid case file (none for a file that does not read: its errors come first)."""
    from imr_rules.cases.reader import case_from_document

    vocabulary = vocabulary or vocabulary_of()
    try:
        document = load_yaml(path)
        case = case_from_document(document, vocabulary=vocabulary)
    except InputError:
        return []
    return unmapped_fact_hints(case, document, vocabulary)
