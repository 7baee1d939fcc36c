"""Drug names and amounts as requests write them: 'Norco 10/325 #60', 'Lidoderm 5% patch, 1 box x2 refills'.

``find_product`` looks a name up in the project's drug table (``rules/vocabulary/drugs.yaml``): the whole
name, then its leading words, then each word, as a product or as an ingredient. A name the table does not
know is tried in the drug-named-entity-recognition library (an offline dictionary of generic and brand
names), whose generic names are then read against the table's ingredients for their class. ``parse_amounts``
reads the strength, the quantity and its unit, and the refills.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imr_rules.cases.tables import Product, Tables

_STRENGTH = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)*)\s*(mg|mcg|g|%|mg/ml|mcg/hr|mcg/h)?"
                       r"(?![\w/])", re.I)
_HASH = re.compile(r"#\s*(\d+(?:\.\d+)?)")
_COUNT = re.compile(r"(?<![\w.#/])(\d+(?:\.\d+)?)\s*(tablets?|tabs?|capsules?|caps?|patch(?:es)?|grams?|gm|g|ml|"
                    r"bottles?|tubes?|boxe?s?|kits?|packs?)\b", re.I)
_REFILLS = re.compile(r"(?:x\s*(\d+)\s*refills?|(\d+)\s*refills?|refills?\s*(?:x\s*)?(\d+)|rf\s*x?\s*(\d+))", re.I)
_UNIT_WORDS = {"tablet": "tablets", "tab": "tablets", "capsule": "capsules", "cap": "capsules", "patch": "patches",
               "gram": "g", "gm": "g", "g": "g", "ml": "ml", "bottle": "bottles", "tube": "tubes", "box": "boxes",
               "boxe": "boxes", "kit": "packs", "pack": "packs"}
_TOPICAL_WORDS = ("cream", "gel", "ointment", "lotion", "topical", "transdermal", "patch", "compound", "liniment",
                  "rub", "spray")
_DEFAULT_UNIT = {"oral": "tablets", "oral_extended_release": "tablets", "topical_patch": "patches",
                 "topical": "g", "compounded": "g", "oral_solution": "ml", "oral_suspension": "ml"}
_NOISE = {"mg", "mcg", "g", "gm", "ml", "tab", "tabs", "tablet", "tablets", "cap", "caps", "capsule", "capsules",
          "er", "xr", "sr", "cr", "ds", "po", "bid", "tid", "qid",
          "qd", "prn", "hs", "daily", "refill", "refills", "box", "x", "qty", "quantity", "of", "the", "and", "with",
          "retro", "retrospective", "dispensed", "request", "for", "rx", "topical", "oral", "compound", "compounded",
          "kit", "one", "two", "bottle", "tube"}


@dataclass(frozen=True)
class Amounts:
    """What a drug line says about strength, quantity and refills (None where it says nothing)."""

    strength: str | None = None
    amount: float | None = None
    unit: str | None = None
    refills: int | None = None


def parse_amounts(text: str, formulation: str | None = None) -> Amounts:
    """Strength ('10/325 mg'), quantity ('#60': 60 tablets, '120 g', '1 box', '30 patches'), refills ('x2')."""
    refills = None
    match = _REFILLS.search(text)
    if match:
        refills = int(next(group for group in match.groups() if group is not None))
        text = text[:match.start()] + " " + text[match.end():]
    amount: float | None = None
    unit: str | None = None
    count = _COUNT.search(text)
    hashed = _HASH.search(text)
    if count:
        amount, word = float(count.group(1)), count.group(2).lower()
        unit = _UNIT_WORDS.get(word) or _UNIT_WORDS.get(re.sub(r"(es|s)$", "", word)) \
            or _UNIT_WORDS.get(word.removesuffix("s"))
        text = text[:count.start()] + " " + text[count.end():]
    elif hashed:
        amount = float(hashed.group(1))
        unit = _DEFAULT_UNIT.get(formulation or "oral", "units")
    if hashed:
        text = text[:hashed.start()] + " " + text[hashed.end():]
    strength = None
    for found in _STRENGTH.finditer(text):
        number, suffix = found.group(1), found.group(2)
        if suffix or "/" in number:
            unit_text = "" if not suffix else suffix.lower() if suffix == "%" else f" {suffix.lower()}"
            strength = re.sub(r"\s+", "", number) + unit_text
            break
    return Amounts(strength, amount, unit, refills)


def name_words(text: str) -> list[str]:
    """The words of a drug line that can be part of a name (no numbers, units, frequencies)."""
    words = re.findall(r"[a-z][a-z\-']*", text.lower())
    return [w.strip("-'") for w in words if w.strip("-'") and w.strip("-'") not in _NOISE]


def find_product(text: str, tables: Tables, use_library: bool = True) -> Product | None:
    """The product a drug line names: the project table first (whole name, leading words, then any word,
    as a product or an ingredient), then the drug-named-entity-recognition library; None when unknown."""
    words = name_words(text)
    for size in range(len(words), 0, -1):
        for start in range(0, len(words) - size + 1):
            key = "_".join(words[start:start + size])
            if key in tables.products:
                return tables.products[key]
    found = _from_ingredients(words, tables, _topical_words(text))
    if found is not None or not use_library:
        return found
    return _from_library(text, tables)


def _topical_words(text: str) -> tuple[bool, bool]:
    """Whether a drug line says it is put on the skin, and whether it says it is compounded."""
    lowered = text.lower()
    return any(word in lowered for word in _TOPICAL_WORDS), "compound" in lowered


def _from_ingredients(words: list[str], tables: Tables, topical: tuple[bool, bool] = (False, False)) -> Product | None:
    """A product made of the ingredients a line names; a line for the skin (cream, gel, 'compound') is a
    topical analgesic, compounded when it says so or mixes several ingredients."""
    names: list[str] = []
    index = 0
    while index < len(words):
        for size in (3, 2, 1):
            key = "_".join(words[index:index + size])
            ingredient = tables.ingredients.get(key)
            if ingredient is not None and len(words[index:index + size]) == size:
                if ingredient.name not in names:
                    names.append(ingredient.name)
                index += size
                break
        else:
            index += 1
    if not names:
        return None
    product = _combined(names, tables, "table")
    on_skin, compounded = topical
    if on_skin or compounded:
        compounded = compounded or len(names) > 1
        product = Product(name=product.name, ingredients=product.ingredients, drug_class="topical_analgesic",
                          formulation="compounded" if compounded else "topical", route="topical",
                          compounded=compounded, combination_listed=product.combination_listed, source="table")
    return product


def _combined(names: list[str], tables: Tables, source: str) -> Product:
    classes = [tables.ingredients[name].drug_class for name in names]
    main = next((c for c in classes if c != "other_medication"), classes[0])
    return Product(name=" / ".join(names), ingredients=tuple(names), drug_class=main,
                   combination_listed=len(names) == 1, source=source)


@functools.cache
def _library_finder() -> Callable[..., Any] | None:
    try:
        from drug_named_entity_recognition import find_drugs
    except ImportError:  # the library is optional at run time: the project table still works
        return None
    finder: Callable[..., Any] = find_drugs
    return finder


def _from_library(text: str, tables: Tables) -> Product | None:
    finder = _library_finder()
    if finder is None:
        return None
    tokens = re.findall(r"[A-Za-z][A-Za-z\-]*", text)
    for match in finder(tokens, is_ignore_case=True):
        generic = str(match[0].get("name", ""))
        keys = ["_".join(name_words(part)) for part in re.split(r"[/,]| and ", generic)]
        names = [tables.ingredients[key].name for key in keys if key in tables.ingredients]
        if names:
            return _combined(names, tables, "library")
    return None
