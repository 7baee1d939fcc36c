"""Lookup tables of the rule base beside the vocabularies: procedure codes, ICD-10-CM prefixes and drugs.

They are data in ``rules/vocabulary/`` (``codes.yaml``, ``icd10_map.yaml``, ``drugs.yaml``), each file
marked by its ``kind``. Codes are facts: a CPT or HCPCS code (or a range of them) names a service, and
often a body region or a test kind; an ICD-10-CM code prefix names the diagnosis category the guidelines
key on and the region; a drug name (brand or generic) names its ingredients, its class (a medication
service), its formulation and route, and whether a generic exists. The MTUS Drug List status of each
ingredient (8 CCR 9792.27.15) is data here too, by effective date and with the reference's confidence
mark. ``docs/codes-and-drugs.md`` describes the files.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from imr_rules.common.diagnostics import Diagnostic
from imr_rules.common.yaml_source import PathKey, SourceDocument, dotted

TABLE_KINDS = ("code_table", "icd10_map", "drug_table", "formulary_rules")
"""The ``kind`` of each table file (a vocabulary file has ``kind: vocabulary``)."""

CODE_PATTERN = re.compile(r"^(\d{5}|\d{4}[A-Z]|[A-Z]\d{4})$")
"""A CPT code (five digits, or four digits and a letter for categories II and III) or a HCPCS Level II code."""
NDC_PATTERN = re.compile(r"^\d{4,5}-?\d{3,4}-?\d{1,2}$")
"""A National Drug Code, with or without its dashes (not in the code table; accepted as given)."""

TermId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Code = Annotated[str, Field(pattern=r"^(\d{5}|\d{4}[A-Z]|[A-Z]\d{4})(-(\d{5}|\d{4}[A-Z]|[A-Z]\d{4}))?$")]
Mark = Literal["C", "I", "U-H", "U-M", "U-L"]
FormularyStatus = Literal["exempt", "non_exempt", "unlisted", "unclear"]
"""A Drug List status; ``unclear`` where the reference cannot tell Exempt from Non-Exempt."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# ---- file formats ----------------------------------------------------------------------------------------

class CodeSpec(_Strict):
    """One code or a range of codes (``95907-95913``) and what it names."""

    code: Code
    label: Annotated[str, Field(min_length=1, max_length=160)]
    service: TermId
    region: TermId | None = None
    test_kind: TermId | None = None


class CodeTableFile(_Strict):
    """``kind: code_table``: CPT/HCPCS codes and ranges to services."""

    kind: Literal["code_table"]
    codes: list[CodeSpec] = Field(min_length=1)


class Icd10Spec(_Strict):
    """An ICD-10-CM code prefix and the diagnosis category and region its codes belong to."""

    prefix: Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")]
    label: Annotated[str, Field(min_length=1, max_length=160)]
    category: TermId | None = None
    region: TermId | None = None


class Icd10MapFile(_Strict):
    """``kind: icd10_map``: ICD-10-CM code prefixes to diagnosis categories and regions (longest prefix wins)."""

    kind: Literal["icd10_map"]
    prefixes: list[Icd10Spec] = Field(min_length=1)


class ListingSpec(_Strict):
    """One MTUS Drug List status of an ingredient from a date on, with the reference's mark and section."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    from_date: dt.date = Field(alias="from")
    status: FormularyStatus
    special_fill_days: Annotated[int, Field(ge=1, le=30)] | None = None
    perioperative_fill_days: Annotated[int, Field(ge=1, le=30)] | None = None
    mark: Mark
    source: Annotated[str, Field(min_length=1, max_length=200)]


class IngredientSpec(_Strict):
    """An active ingredient (generic name): its class and, where known, its MTUS Drug List listings."""

    name: TermId
    drug_class: TermId
    synonyms: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(default_factory=list)
    formulary: list[ListingSpec] = Field(default_factory=list)


class ProductSpec(_Strict):
    """A product by name (brand, generic or a workers' comp compounded or convenience product)."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    synonyms: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(default_factory=list)
    ingredients: list[TermId] = Field(min_length=1)
    drug_class: TermId
    formulation: TermId | None = None
    route: TermId | None = None
    brand: bool = False
    generic_available: bool | None = None
    compounded: bool = False
    combination_listed: bool = Field(
        default=True, description="False for a combination the Drug List does not list as a combination.")
    formulary: list[ListingSpec] = Field(default_factory=list, description="Listings of the product itself, "
                                         "when they differ from its ingredients' (a topical form, a medical food).")
    mark: Mark = "U-M"
    note: str | None = None


class DrugTableFile(_Strict):
    """``kind: drug_table``: ingredients with their class and Drug List status, and products by name."""

    kind: Literal["drug_table"]
    ingredients: list[IngredientSpec] = Field(default_factory=list)
    products: list[ProductSpec] = Field(default_factory=list)


Review = Literal["not_required", "required", "outside"]
OutcomeName = Literal["outside_formulary", "compounded", "status_unknown", "unlisted", "status_unclear",
                      "brand_over_generic", "physician_dispensed", "exempt", "special_fill", "perioperative_fill",
                      "non_exempt"]
"""The outcomes of the formulary pre-screen, in the order the screen tries them (8 CCR 9792.27.x)."""
OUTCOMES: tuple[OutcomeName, ...] = typing.get_args(OutcomeName)
TEMPLATE_WORDS = ("drug", "ingredients", "listing", "days_supply", "limit", "days", "missing", "substantiation")
"""The fields a formulary outcome text may use (checked when the rule base is loaded)."""


class OutcomeSpec(_Strict):
    """One outcome of the formulary pre-screen: the regulation section, whether prospective review is
    needed, and the sentence the output shows (a template of ``TEMPLATE_WORDS``)."""

    section: Annotated[str, Field(min_length=1, max_length=80)]
    review: Review
    label: Annotated[str, Field(min_length=1, max_length=120)]
    text: Annotated[str, Field(min_length=1, max_length=1200)]
    sources: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)


class FillWindow(_Strict):
    """A window of days, counted from a reference date (the injury, or the surgery as day 0)."""

    first_day: Annotated[int, Field(ge=-30, le=30)]
    last_day: Annotated[int, Field(ge=-30, le=30)]
    source: Annotated[str, Field(min_length=1, max_length=300)]


class FormularyRulesFile(_Strict):
    """``kind: formulary_rules``: the MTUS Drug Formulary pre-screen, its dates, windows and outcome texts."""

    kind: Literal["formulary_rules"]
    title: str
    citation: str
    effective_from: dt.date
    special_fill_window: FillWindow
    perioperative_fill_window: FillWindow
    physician_dispensed_window: FillWindow
    physician_dispensed_supply_days: Annotated[int, Field(ge=1, le=30)]
    physician_administered_routes: list[TermId] = Field(default_factory=list)
    outcomes: dict[OutcomeName, OutcomeSpec]


# ---- the validated tables --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeEntry:
    """What a code or code range names."""

    first: str
    last: str
    label: str
    service: str
    region: str | None
    test_kind: str | None
    where: str

    def covers(self, code: str) -> bool:
        """True when ``code`` is this code or lies in this range (same length and kind of code)."""
        return len(code) == len(self.first) and code[0].isdigit() == self.first[0].isdigit() \
            and code[-1].isdigit() == self.first[-1].isdigit() and self.first <= code <= self.last


@dataclass(frozen=True)
class Icd10Entry:
    """A diagnosis category and region for the codes under an ICD-10-CM prefix (dot removed)."""

    prefix: str
    label: str
    category: str | None
    region: str | None


@dataclass(frozen=True)
class Listing:
    """An MTUS Drug List status from a date on."""

    from_date: dt.date
    status: FormularyStatus
    special_fill_days: int | None
    perioperative_fill_days: int | None
    mark: str
    source: str


@dataclass(frozen=True)
class Ingredient:
    """An active ingredient: class and Drug List listings, earliest first."""

    name: str
    drug_class: str
    listings: tuple[Listing, ...] = ()

    def listing_on(self, day: dt.date) -> Listing | None:
        """The Drug List status in force on ``day`` (None before the first listing)."""
        return listing_on(self.listings, day)


@dataclass(frozen=True)
class Product:
    """A drug product as a request names it."""

    name: str
    ingredients: tuple[str, ...]
    drug_class: str
    formulation: str | None = None
    route: str | None = None
    brand: bool = False
    generic_available: bool | None = None
    compounded: bool = False
    combination_listed: bool = True
    listings: tuple[Listing, ...] = ()
    mark: str = "U-M"
    source: str = "table"
    """``table`` (the project's drug table) or ``library`` (resolved by drug-named-entity-recognition)."""


@dataclass(frozen=True)
class Tables:
    """Every lookup table of a rule base (empty when the rule base ships none)."""

    codes: tuple[CodeEntry, ...] = ()
    icd10: tuple[Icd10Entry, ...] = ()
    ingredients: dict[str, Ingredient] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    """Products by every name they go by (lower case)."""
    formulary: FormularyRulesFile | None = None
    """The formulary pre-screen's settings and texts, when the rule base has them."""
    formulary_where: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    """The file and line of each formulary outcome text (the rule base checks their template fields)."""

    def code(self, code: str) -> CodeEntry | None:
        """The entry naming ``code`` (a single code before a range that holds it), or None."""
        key = normal_code(code)
        found = [entry for entry in self.codes if entry.covers(key)]
        found.sort(key=lambda entry: entry.first != entry.last)
        return found[0] if found else None

    def icd10_entry(self, code: str, attribute: Literal["category", "region"]) -> Icd10Entry | None:
        """The longest prefix entry of ``code`` that gives ``attribute``."""
        key = code.replace(".", "").upper()
        best: Icd10Entry | None = None
        for entry in self.icd10:
            if key.startswith(entry.prefix) and getattr(entry, attribute) is not None \
                    and (best is None or len(entry.prefix) > len(best.prefix)):
                best = entry
        return best

    def ingredient(self, name: str) -> Ingredient | None:
        """An ingredient by its name or a synonym (any case, spaces or underscores)."""
        return self.ingredients.get(name_key(name))


def normal_code(code: str) -> str:
    """A code as the table writes it: upper case, no spaces or modifiers ('72148-RT' -> '72148')."""
    return code.strip().upper().split("-")[0].split(" ")[0]


def name_key(name: str) -> str:
    """A drug or ingredient name as a lookup key: lower case, words joined by '_'."""
    return "_".join(re.findall(r"[a-z0-9]+", name.lower()))


# ---- building and checking -------------------------------------------------------------------------------

TableFile = CodeTableFile | Icd10MapFile | DrugTableFile | FormularyRulesFile
Known = Callable[[str, str], bool]
"""Whether a term id is in a vocabulary kind: ``known('services', 'imaging_mri')``."""
Hint = Callable[[str, str], str]


def table_model(kind: str) -> type[TableFile]:
    """The file model of a table ``kind``."""
    models: dict[str, type[TableFile]] = {"code_table": CodeTableFile, "icd10_map": Icd10MapFile,
                                          "drug_table": DrugTableFile, "formulary_rules": FormularyRulesFile}
    return models[kind]


def _where(document: SourceDocument, path: PathKey) -> str:
    return f"{document.name}:{document.line_of(path)}"


def build_tables(files: list[tuple[TableFile, SourceDocument]], known: Known,
                 hint: Hint) -> tuple[Tables, list[Diagnostic]]:
    """The tables of the given files, with an error for every term they name that the vocabulary lacks."""
    problems: list[Diagnostic] = []

    def check(document: SourceDocument, path: PathKey, kind: str, value: str | None) -> None:
        if value is not None and not known(kind, value):
            problems.append(Diagnostic(document.name, document.line_of(path), dotted(path),
                                       f"'{value}' is not in the {kind} vocabulary", hint(kind, value)))

    codes: list[CodeEntry] = []
    icd10: list[Icd10Entry] = []
    ingredients: dict[str, Ingredient] = {}
    products: dict[str, Product] = {}
    formulary: FormularyRulesFile | None = None
    formulary_where: dict[str, tuple[str, int | None]] = {}
    for spec, document in files:
        if isinstance(spec, FormularyRulesFile):
            formulary = _formulary(spec, document, check, problems, formulary_where)
        elif isinstance(spec, CodeTableFile):
            codes += _codes(spec, document, check, problems)
        elif isinstance(spec, Icd10MapFile):
            for index, entry in enumerate(spec.prefixes):
                check(document, ("prefixes", index, "category"), "diagnosis_categories", entry.category)
                check(document, ("prefixes", index, "region"), "body_regions", entry.region)
                icd10.append(Icd10Entry(entry.prefix.replace(".", ""), entry.label, entry.category, entry.region))
        else:
            _drugs(spec, document, check, problems, ingredients, products)
    return Tables(tuple(codes), tuple(icd10), ingredients, products, formulary, formulary_where), problems


def _formulary(spec: FormularyRulesFile, document: SourceDocument,
               check: Callable[[SourceDocument, PathKey, str, str | None], None],
               problems: list[Diagnostic], where: dict[str, tuple[str, int | None]]) -> FormularyRulesFile:
    for index, route in enumerate(spec.physician_administered_routes):
        check(document, ("physician_administered_routes", index), "routes", route)
    missing = [name for name in OUTCOMES if name not in spec.outcomes]
    if missing:
        problems.append(Diagnostic(document.name, document.line_of(("outcomes",)), "outcomes",
                                   "the formulary pre-screen needs a text for every outcome",
                                   "missing: " + ", ".join(missing)))
    where.update({name: (document.name, document.line_of(("outcomes", name, "text"))) for name in spec.outcomes})
    return spec


def _codes(spec: CodeTableFile, document: SourceDocument, check: Callable[[SourceDocument, PathKey, str, str | None],
           None], problems: list[Diagnostic]) -> list[CodeEntry]:
    found: list[CodeEntry] = []
    for index, entry in enumerate(spec.codes):
        first, _, last = entry.code.partition("-")
        last = last or first
        if len(first) != len(last) or first > last or first[0].isdigit() != last[0].isdigit():
            problems.append(Diagnostic(document.name, document.line_of(("codes", index, "code")),
                                       f"codes[{index}].code", f"'{entry.code}' is not a range of codes",
                                       "a range is FIRST-LAST: two codes of one kind, the first not after the last"))
            continue
        check(document, ("codes", index, "service"), "services", entry.service)
        check(document, ("codes", index, "region"), "body_regions", entry.region)
        check(document, ("codes", index, "test_kind"), "test_kinds", entry.test_kind)
        clash = next((other for other in found if other.first == first and other.last == last), None)
        if clash is not None:
            problems.append(Diagnostic(document.name, document.line_of(("codes", index, "code")),
                                       f"codes[{index}].code", f"code {entry.code} is listed twice",
                                       f"first at {clash.where}"))
            continue
        found.append(CodeEntry(first, last, entry.label, entry.service, entry.region, entry.test_kind,
                               _where(document, ("codes", index))))
    return found


def _drugs(spec: DrugTableFile, document: SourceDocument,
           check: Callable[[SourceDocument, PathKey, str, str | None], None], problems: list[Diagnostic],
           ingredients: dict[str, Ingredient], products: dict[str, Product]) -> None:
    def duplicate(path: PathKey, what: str, name: str) -> None:
        problems.append(Diagnostic(document.name, document.line_of(path), dotted(path),
                                   f"{what} '{name}' is listed twice", "each name may name one entry only"))

    for index, raw in enumerate(spec.ingredients):
        check(document, ("ingredients", index, "drug_class"), "services", raw.drug_class)
        ingredient = Ingredient(raw.name, raw.drug_class, _listings(raw.formulary))
        for name in (raw.name, *raw.synonyms):
            if name_key(name) in ingredients:
                duplicate(("ingredients", index, "name"), "ingredient", name)
            ingredients[name_key(name)] = ingredient
    for index, raw_product in enumerate(spec.products):
        for number, part in enumerate(raw_product.ingredients):
            if part not in ingredients:
                problems.append(Diagnostic(document.name, document.line_of(("products", index, "ingredients", number)),
                                           f"products[{index}].ingredients[{number}]",
                                           f"ingredient '{part}' is not in the ingredients of the drug table",
                                           "add it under ingredients: with its class"))
        check(document, ("products", index, "drug_class"), "services", raw_product.drug_class)
        check(document, ("products", index, "formulation"), "formulations", raw_product.formulation)
        check(document, ("products", index, "route"), "routes", raw_product.route)
        product = Product(raw_product.name, tuple(raw_product.ingredients), raw_product.drug_class,
                          raw_product.formulation, raw_product.route, raw_product.brand,
                          raw_product.generic_available, raw_product.compounded, raw_product.combination_listed,
                          _listings(raw_product.formulary), raw_product.mark)
        for name in (raw_product.name, *raw_product.synonyms):
            if name_key(name) in products:
                duplicate(("products", index, "name"), "product", name)
            products[name_key(name)] = product


def _listings(specs: list[ListingSpec]) -> tuple[Listing, ...]:
    return tuple(sorted((Listing(x.from_date, x.status, x.special_fill_days, x.perioperative_fill_days, x.mark,
                                 x.source) for x in specs), key=lambda x: x.from_date))


def listing_on(listings: tuple[Listing, ...], day: dt.date) -> Listing | None:
    """The listing in force on ``day`` among ``listings`` (earliest first), or None before the first."""
    current = None
    for listing in listings:
        if listing.from_date <= day:
            current = listing
    return current
