"""Details of a requested item read from its title with the vocabulary: side, test kind, formulation, unit.

Test kinds, formulations and units are the vocabulary's terms (``rules/vocabulary/test_kinds.yaml``,
``formulations.yaml``, ``units.yaml``), found by their id, label or synonyms written as whole words in
the item's title. A test kind is only one that belongs to the item's service; a service with one test
kind (an MRI request) takes it. A quantity written as '#60' of an oral medication is counted in tablets;
a weight or volume written with its unit (106.32 gm, 120 ml) is taken with that unit.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from imr_rules.cases.vocabulary import Vocabulary
from imr_rules.intake.findings import intake_vocabulary

_SIDE = re.compile(r"\b(left|right|bilateral)\b", re.I)
_RETROSPECTIVE = re.compile(r"\bretro(?:spective|active)?\b|\bDOS\b|date of service", re.I)
_PURCHASE = re.compile(r"\bpurchas(?:e|ed|ing)\b", re.IGNORECASE)
_RENTAL = re.compile(r"\brent(?:al|ed)?\b", re.IGNORECASE)
_MEASURED = re.compile(r"(\d+(?:\.\d+)?)\s*(gm|g|grams?|ml|mL|cc)\b(?!\s*/)")
_COUNTED = re.compile(r"#\s*(\d+)|\bqty:?\s*(\d+)|quantity:?\s*(\d+)", re.I)
_ORAL = ("oral", "oral_extended_release")
_STUDY_SERVICES = frozenset({"imaging_xray", "imaging_mri", "imaging_ct", "electrodiagnostic", "other"})


def _words(term_id: str, vocabulary: Vocabulary, kind: str) -> list[str]:
    term = vocabulary.term(kind, term_id)
    return [w for w in dict.fromkeys([term_id.replace("_", " "), term.label, *term.synonyms]) if len(w) > 1]


def _pattern(word: str) -> re.Pattern[str]:
    """A whole-word pattern, singular or plural; short upper-case abbreviations (ER, UA) match only in upper case."""
    flags = 0 if word.isupper() and len(word) <= 3 else re.I
    stem = word[:-1] if word.endswith("s") and len(word) > 3 else word  # 'tubes' also names one tube
    return re.compile(r"(?<![\w/])" + re.escape(stem) + r"s?(?![\w])", flags)


@lru_cache(maxsize=1)
def _patterns() -> dict[str, list[tuple[str, re.Pattern[str], int]]]:
    """Per vocabulary kind: (term id, pattern, length of the words) for every word of every term."""
    vocabulary = intake_vocabulary()
    return {kind: [(term, _pattern(word), len(word)) for term in vocabulary.ids(kind)
                   for word in _words(term, vocabulary, kind)]
            for kind in ("test_kinds", "formulations", "units")}


def _found(kind: str, title: str, allowed: set[str] | None = None) -> list[tuple[int, str]]:
    """(length of the word, term) for every term of ``kind`` the title names."""
    return [(length, term) for term, pattern, length in _patterns()[kind]
            if (allowed is None or term in allowed) and pattern.search(title)]


def study_mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, test kind) of every imaging or electrodiagnostic study a text names, longest first at a place."""
    vocabulary = intake_vocabulary()
    wanted = {t for t in vocabulary.ids("test_kinds")
              if set(vocabulary.term("test_kinds", t).services) & _STUDY_SERVICES}
    found = sorted(((m.start(), -m.end(), term) for term, pattern, _ in _patterns()["test_kinds"] if term in wanted
                    for m in pattern.finditer(text)))
    kept: list[tuple[int, int, str]] = []
    for start, negative_end, term in found:
        if kept and start < kept[-1][1]:
            continue  # inside a longer name already kept ('EMG' of 'EMG/NCS')
        kept.append((start, -negative_end, term))
    return kept


def is_electrodiagnostic(kind: str) -> bool:
    """Whether a test kind is an electrodiagnostic study (else an imaging study)."""
    return "electrodiagnostic" in intake_vocabulary().term("test_kinds", kind).services


def test_kind(title: str, service: str) -> str | None:
    """The test kind of an item of this service the title names, or the service's only test kind."""
    vocabulary = intake_vocabulary()
    candidates = {t for t in vocabulary.ids("test_kinds") if service in vocabulary.term("test_kinds", t).services}
    named = {term for _, term in _found("test_kinds", title, candidates)}
    if {"emg", "ncs"} <= named or "emg_ncs" in named:
        return "emg_ncs" if "emg_ncs" in candidates else None
    if len(named) == 1:
        return named.pop()
    found = sorted(_found("test_kinds", title, candidates), reverse=True)
    if found:
        return found[0][1]
    usual = candidates - {"other_test"}
    return usual.pop() if len(usual) == 1 else None


def formulation(title: str) -> str | None:
    """The formulation the title names ('compound' wins over the cream or gel it is made into)."""
    found = _found("formulations", title)
    if any(term == "compounded" for _, term in found):
        return "compounded"
    return max(found)[1] if found else None


def quantity(title: str, service: str, form: str | None) -> dict[str, Any] | None:
    """The quantity with its unit: a measured weight or volume, else a count in the unit the title names."""
    measured = _MEASURED.search(title)
    if measured:
        unit = "g" if measured.group(2).lower().startswith("g") else "ml"
        return {"amount": float(measured.group(1)), "unit": unit}
    counted = _COUNTED.search(title)
    if counted is None:
        return None
    amount = int(next(g for g in counted.groups() if g))
    named = [term for _, term in sorted(_found("units", title), reverse=True)]
    if named:
        unit = named[0]
    elif form == "topical_patch":
        unit = "patches"
    elif intake_vocabulary().term("services", service).group == "medication" and (form is None or form in _ORAL):
        unit = "tablets"
    else:
        unit = "units"
    return {"amount": amount, "unit": unit} if 0 < amount <= 100000 else None


def item_details(title: str, service: str) -> dict[str, Any]:
    """Side, test kind, formulation, quantity, rental or purchase and retrospective flag, as the title gives them."""
    details: dict[str, Any] = {}
    sides = {m.group(1).lower() for m in _SIDE.finditer(title)}
    if sides:
        details["side"] = sides.pop() if len(sides) == 1 else "bilateral"
    kind = test_kind(title, service)
    if kind is not None:
        details["test_kind"] = kind
    group = intake_vocabulary().term("services", service).group
    form = formulation(title) if group == "medication" else None
    if form is not None:
        details["formulation"] = form
    amount = quantity(title, service, form) if group == "medication" else None
    if amount is not None:
        details["quantity"] = amount
    if _RETROSPECTIVE.search(title):
        details["retrospective"] = True
    acquisition = _acquisition(title)
    if acquisition is not None:
        details["acquisition"] = acquisition
    return details


def _acquisition(title: str) -> str | None:
    """'purchase' or 'rental' when the title names exactly one of them."""
    bought, rented = bool(_PURCHASE.search(title)), bool(_RENTAL.search(title))
    return "purchase" if bought and not rented else "rental" if rented and not bought else None
