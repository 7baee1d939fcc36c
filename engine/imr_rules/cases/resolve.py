"""Fill a case's items and diagnoses from their codes and drug names, before the case is validated.

A requested item may be given by CPT/HCPCS codes only, by a drug name only, or with its service written
out; a diagnosis may be given by its ICD-10-CM code. This step reads the lookup tables of the rule base
(``rules/vocabulary/codes.yaml``, ``icd10_map.yaml``, ``drugs.yaml``) and fills what the case leaves out:
an item's service, regions, test kind, description, formulation, route, ingredients, strength, quantity
and refills; a diagnosis's category, region and description. What the case writes is never replaced: a
code or drug name that disagrees with it is reported as a warning at its line. It works on the plain data
(as read from YAML or JSON), so the case model validates the filled case as usual.
"""

from __future__ import annotations

import copy
import difflib
import functools
from dataclasses import dataclass, field
from typing import Any

from imr_rules.cases.drugs import find_product, parse_amounts
from imr_rules.cases.tables import CODE_PATTERN, NDC_PATTERN, CodeEntry, Product, Tables, normal_code
from imr_rules.cases.vocabulary import Vocabulary
from imr_rules.common.yaml_source import PathKey

CODE_HINT = ("a CPT code is five digits (97110) or four digits and a letter (0101T); a HCPCS code is a letter and "
             "four digits (E0730); an NDC is 5-4-2 digits")
_SYSTEMIC = "systemic"
_COMBINED_TEST = "emg_ncs"
"""A written test kind that covers the codes of its parts (an EMG code and an NCS code)."""
_LOCAL_FORMS = ("topical", "topical_patch", "compounded")
"""Formulations applied where it hurts: the item takes the diagnoses' regions, not the whole person."""


@dataclass
class Resolution:
    """The filled case data, and the problems found: (path, message, hint) each."""

    data: Any
    errors: list[tuple[PathKey, str, str]] = field(default_factory=list)
    warnings: list[tuple[PathKey, str, str]] = field(default_factory=list)


@functools.cache
def _icd10() -> Any:
    import simple_icd_10_cm  # about 1.5 s to load: only when a case gives a code

    return simple_icd_10_cm


def icd10_valid(code: str) -> bool:
    """True when ``code`` (with or without its dot) is a code or category of the ICD-10-CM code set."""
    return bool(_icd10().is_valid_item(code))


def icd10_hint(code: str) -> str:
    """A hint for an invalid ICD-10-CM code: the valid codes closest to it, or the format."""
    icd = _icd10()
    key = code.replace(".", "").upper()
    found: list[str] = []
    for position in range(len(key) - 1):  # two characters swapped
        swapped = key[:position] + key[position + 1] + key[position] + key[position + 2:]
        if swapped != key and icd.is_valid_item(swapped):
            found.append(swapped)
    for size in range(len(key) - 1, 2, -1):  # the nearest valid category, and its codes closest to the one given
        parent = key[:size]
        if icd.is_valid_item(parent):
            family = [parent, *(icd.remove_dot(c) for c in icd.get_descendants(parent))]
            found += difflib.get_close_matches(key, family, n=3, cutoff=0.5) or [parent]
            break
    names = list(dict.fromkeys(str(icd.add_dot(c)) for c in found))[:3]
    if names:
        return "did you mean " + " or ".join(names) + "?"
    return "an ICD-10-CM code is a letter, a digit, a character, then up to four more after a dot (M54.16, S33.5XXA)"


def resolve_case(data: Any, vocabulary: Vocabulary) -> Resolution:
    """A copy of ``data`` with items and diagnoses filled from their codes and drug names."""
    if not isinstance(data, dict):
        return Resolution(data)
    filled = copy.deepcopy(data)
    resolution = Resolution(filled)
    diagnoses = filled.get("diagnoses")
    if isinstance(diagnoses, list):
        for index, diagnosis in enumerate(diagnoses):
            if isinstance(diagnosis, dict):
                _resolve_diagnosis(diagnosis, ("diagnoses", index), vocabulary, resolution)
    items = filled.get("requested_items")
    if isinstance(items, list):
        regions = _diagnosis_regions(diagnoses if isinstance(diagnoses, list) else [])
        for index, item in enumerate(items):
            if isinstance(item, dict):
                _ItemResolver(item, ("requested_items", index), vocabulary, resolution, regions).resolve()
    return resolution


def _diagnosis_regions(diagnoses: list[Any]) -> list[str]:
    regions: list[str] = []
    for diagnosis in diagnoses:
        if isinstance(diagnosis, dict) and diagnosis.get("status") != "rule_out":
            region = diagnosis.get("region")
            if isinstance(region, str) and region not in regions:
                regions.append(region)
    return regions


def _resolve_diagnosis(diagnosis: dict[str, Any], path: PathKey, vocabulary: Vocabulary,
                       resolution: Resolution) -> None:
    code = diagnosis.get("icd10")
    if not isinstance(code, str):
        return
    if not icd10_valid(code):
        resolution.errors.append(((*path, "icd10"), f"'{code}' is not an ICD-10-CM code", icd10_hint(code)))
        diagnosis.setdefault("description", code)  # the case is refused: no second error for the description
        return
    if not _icd10().is_leaf(code):
        children = [str(_icd10().add_dot(c)) for c in _icd10().get_children(code)]
        resolution.warnings.append(((*path, "icd10"), f"ICD-10-CM {code} is a category, not a billable code",
                                    "a billable code is one of " + ", ".join(children[:10])
                                    + (" ..." if len(children) > 10 else "")))
    tables = vocabulary.tables
    category = tables.icd10_entry(code, "category")
    region = tables.icd10_entry(code, "region")
    if "description" not in diagnosis:
        diagnosis["description"] = str(_icd10().get_description(code))
    if category is not None:
        written = diagnosis.get("category")
        if written is None:
            diagnosis["category"] = category.category
        elif written != category.category:
            resolution.warnings.append((
                (*path, "category"), f"ICD-10-CM {code} ({category.label}) is in category '{category.category}', "
                f"but the diagnosis says '{written}'", "check the code or the category; the category written is used"))
    if region is not None and region.region is not None:
        written_region = diagnosis.get("region")
        if written_region is None:
            diagnosis["region"] = region.region
        elif isinstance(written_region, str) and not _compatible(vocabulary, written_region, region.region):
            resolution.warnings.append((
                (*path, "region"), f"ICD-10-CM {code} ({region.label}) is a {region.region} diagnosis, but the "
                f"diagnosis says region '{written_region}'", "check the code or the region; the region written is used",
            ))


def _compatible(vocabulary: Vocabulary, one: str, other: str) -> bool:
    """Related regions; a pseudo-region (multiple, systemic, unknown) agrees with any."""
    return vocabulary.region_scope_any(one) or vocabulary.region_scope_any(other) \
        or vocabulary.regions_related(one, other)


@dataclass
class _ItemResolver:
    item: dict[str, Any]
    path: PathKey
    vocabulary: Vocabulary
    resolution: Resolution
    diagnosis_regions: list[str]

    @property
    def tables(self) -> Tables:
        return self.vocabulary.tables

    def warn(self, where: PathKey, message: str, hint: str) -> None:
        self.resolution.warnings.append(((*self.path, *where), message, hint))

    def error(self, where: PathKey, message: str, hint: str) -> None:
        self.resolution.errors.append(((*self.path, *where), message, hint))

    def resolve(self) -> None:
        entries = self._code_entries()
        product = self._product()
        self._service(entries, product)
        if product is not None:
            self._drug_fields(product)
        self._regions(entries)
        self._test_kind(entries)
        if "description" not in self.item:
            self._description(entries)

    # ---- codes ----
    def _code_entries(self) -> list[tuple[int, CodeEntry]]:
        codes = self.item.get("codes")
        if not isinstance(codes, list):
            return []
        stated = "service" in self.item
        found: list[tuple[int, CodeEntry]] = []
        for index, code in enumerate(codes):
            if not isinstance(code, str) or NDC_PATTERN.match(code.strip()):
                continue
            key = normal_code(code)
            report = self.warn if stated else self.error
            if not CODE_PATTERN.match(key):
                report(("codes", index), f"'{code}' is not a CPT or HCPCS code", CODE_HINT)
                continue
            entry = self.tables.code(key)
            if entry is None:
                report(("codes", index), f"code {key} is not in the project's code table",
                       "give service: and regions:, or add the code to rules/vocabulary/codes.yaml" if not stated
                       else "the item is decided by the service written; add the code to rules/vocabulary/codes.yaml")
                continue
            found.append((index, entry))
        return found

    def _service(self, entries: list[tuple[int, CodeEntry]], product: Product | None) -> None:
        service = self.item.get("service")
        if service is None:
            if entries:
                service = self.item["service"] = entries[0][1].service
            elif product is not None:
                service = self.item["service"] = product.drug_class
            else:
                return
        codes = self.item.get("codes", [])
        for index, entry in entries:
            if entry.service != service:
                self.warn(("codes", index), f"code {normal_code(codes[index])} ({entry.label}) bills "
                          f"{entry.service}, but the item's service is {service}",
                          "check the code or the service; the item is decided as " + str(service))
        if product is not None and "drug" in self.item and product.drug_class != service \
                and self.vocabulary.has("services", str(service)) \
                and self.vocabulary.term("services", str(service)).group == "medication":
            self.warn(("drug",), f"{product.name} is a {product.drug_class} drug, but the item's service is {service}",
                      "check the drug or the service; the item is decided as " + str(service))

    def _regions(self, entries: list[tuple[int, CodeEntry]]) -> None:
        regions = self.item.get("regions")
        coded = [(index, entry.region) for index, entry in entries if entry.region is not None]
        if regions is None:
            if coded:
                self.item["regions"] = [coded[0][1]]
            elif self._medication() and self.item.get("formulation") not in _LOCAL_FORMS:
                self.item["regions"] = [_SYSTEMIC]
            elif self.diagnosis_regions and ("service" in self.item):
                self.item["regions"] = list(self.diagnosis_regions)
            elif self._medication():
                self.item["regions"] = [_SYSTEMIC]
            elif entries:
                self.error(("codes",), "the item has no regions, and neither its codes nor the diagnoses name one",
                           "give regions: (e.g. [lumbar]), or a diagnosis with its region or ICD-10-CM code")
            return
        if not isinstance(regions, list) or not regions or not isinstance(regions[0], str):
            return
        codes = self.item.get("codes", [])
        for index, region in coded:
            if region is not None and not any(_compatible(self.vocabulary, r, region) for r in regions
                                              if isinstance(r, str) and self.vocabulary.has("body_regions", r)):
                self.warn(("codes", index), f"code {normal_code(codes[index])} is for the {region}, but the "
                          f"item's regions are {', '.join(map(str, regions))}", "check the code or the regions")

    def _medication(self) -> bool:
        service = self.item.get("service")
        return isinstance(service, str) and self.vocabulary.has("services", service) \
            and self.vocabulary.term("services", service).group == "medication"

    def _test_kind(self, entries: list[tuple[int, CodeEntry]]) -> None:
        service = self.item.get("service")
        kinds = [(index, entry.test_kind) for index, entry in entries
                 if entry.test_kind is not None and entry.service == service]
        if not kinds:
            return
        written = self.item.get("test_kind")
        if written is None:
            self.item["test_kind"] = kinds[0][1]
        elif written not in {kind for _, kind in kinds} and written != _COMBINED_TEST:
            self.warn(("codes", kinds[0][0]), f"the code is for {kinds[0][1]}, but the item's test kind is {written}",
                      "check the code or the test kind")

    def _description(self, entries: list[tuple[int, CodeEntry]]) -> None:
        if entries:
            codes = self.item.get("codes", [])
            self.item["description"] = "; ".join(f"{normal_code(codes[index])} {entry.label}"
                                                 for index, entry in entries)
        elif isinstance(self.item.get("drug"), str):
            self.item["description"] = self.item["drug"]

    # ---- drugs ----
    def _drug_text(self) -> str | None:
        drug = self.item.get("drug")
        if isinstance(drug, str):
            return drug
        description = self.item.get("description")
        if isinstance(description, str) and ("service" not in self.item or self._medication()) \
                and not self.item.get("codes"):
            return description
        return None

    def _product(self) -> Product | None:
        text = self._drug_text()
        if text is None:
            return None
        if "service" in self.item and not self._medication():
            return None
        product = find_product(text, self.tables)
        if product is None and "service" not in self.item:
            where = ("drug",) if "drug" in self.item else ("description",)
            self.error(where, f"'{text}' names no drug the drug table or the drug dictionary knows",
                       "give service: (the drug class), or add the drug to rules/vocabulary/drugs.yaml")
        return product

    def _drug_fields(self, product: Product) -> None:
        item = self.item
        if "drug" not in item:  # the drug line was the description
            item["drug"] = item.get("description", product.name)
        if product.formulation is not None:
            item.setdefault("formulation", product.formulation)
        if product.route is not None:
            item.setdefault("route", product.route)
        if "ingredients" not in item and len(product.ingredients) > 1:
            item["ingredients"] = list(product.ingredients)
        text = str(item.get("drug") or "")
        amounts = parse_amounts(text, item.get("formulation") if isinstance(item.get("formulation"), str) else None)
        if amounts.strength is not None:
            item.setdefault("strength", amounts.strength)
        if amounts.amount is not None and amounts.unit is not None and "quantity" not in item \
                and self.vocabulary.has("units", amounts.unit):
            item["quantity"] = {"amount": amounts.amount, "unit": amounts.unit}
        if amounts.refills is not None:
            item.setdefault("refills", amounts.refills)
