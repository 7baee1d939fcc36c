"""The MTUS Drug Formulary pre-screen: which formulary rule applies to a medication item, before the guideline.

From 1/1/2018 every outpatient drug goes through the formulary (8 CCR 9792.27.1-9792.27.23): an Exempt drug
needs no prospective review when its use is in accordance with the MTUS; a Non-Exempt drug needs it, except
a Special Fill at the initial visit just after the injury or a Perioperative Fill around a surgery, each
within its day limit; an unlisted drug, a compounded drug, a brand ordered over its generic and most
physician-dispensed drugs need it too; a drug the physician gives in the office is outside the formulary.
The order of the checks follows the pre-screen of mtus-current-reference.md 2.4; the dates, windows, day
limits, Drug List statuses (with their confidence marks) and every sentence are data in the rule base
(``rules/vocabulary/formulary.yaml`` and ``drugs.yaml``). The screen never decides medical necessity: the
topic rules do, and a fact the record leaves out (days of supply, the initial visit) is named, not assumed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from imr_rules.cases.drugs import find_product, name_words
from imr_rules.cases.model import Case, OutsideProcedure, RequestedItem, date_bounds
from imr_rules.cases.tables import FillWindow, FormularyRulesFile, Listing, OutcomeName, Product, Tables, listing_on
from imr_rules.cases.vocabulary import Vocabulary
from imr_rules.engine.results import FormularyResult
from imr_rules.rulebase.templates import fill

_SEVERITY = {"unlisted": 0, "non_exempt": 1, "unclear": 2, "exempt": 3}
_STATUS_WORDS = {"exempt": "Exempt", "non_exempt": "Non-Exempt", "unlisted": "Unlisted", "unclear": "unclear"}


@dataclass
class _Context:
    """What the screen has found so far, and the words its templates print."""

    rules: FormularyRulesFile
    case: Case
    item: RequestedItem
    day: dt.date
    product: Product | None
    ingredients: list[str]
    words: dict[str, str] = field(default_factory=dict)
    listings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def result(self, outcome: OutcomeName, status: str | None) -> FormularyResult:
        spec = self.rules.outcomes[outcome]
        text = fill(spec.text, lambda name: self.words.get(name, "not documented"))
        return FormularyResult(outcome=outcome, label=spec.label, review=spec.review, section=spec.section,
                               status=status, text=text, listings=self.listings, notes=self.notes,
                               sources=list(spec.sources))


def screen_item(case: Case, item: RequestedItem, vocabulary: Vocabulary) -> FormularyResult | None:
    """The formulary outcome for a medication item dispensed from the formulary's start, else None."""
    tables = vocabulary.tables
    rules = tables.formulary
    if rules is None or not vocabulary.has("services", item.service) \
            or vocabulary.term("services", item.service).group != "medication":
        return None
    day = _dispense_day(case, item)
    if day < rules.effective_from:
        return None
    text = item.drug or item.description
    product = find_product(text, tables)
    written = [_key(name) for name in item.ingredients]
    names = [tables.ingredients[key].name if key in tables.ingredients else key for key in written if key]
    ingredients = names if item.ingredients else list(product.ingredients if product else ())
    context = _Context(rules, case, item, day, product, ingredients)
    context.words.update(drug=text, ingredients=", ".join(item.ingredients or ingredients) or "not documented",
                         substantiation=_substantiation(item))
    return _screen(context, tables)


def _key(name: str) -> str:
    return "_".join(name_words(name))


def _dispense_day(case: Case, item: RequestedItem) -> dt.date:
    if item.retrospective and item.date_of_service is not None:
        first, last = date_bounds(item.date_of_service)
        if first == last:
            return first
    return case.item_request_date(item)


def _substantiation(item: RequestedItem) -> str:
    return {"present": "the reason is documented", "absent": "no reason is documented"}.get(
        item.substantiation or "", "whether a reason is documented is not stated")


def _screen(context: _Context, tables: Tables) -> FormularyResult:
    item, product = context.item, context.product
    if item.administered_by_physician or (item.route in context.rules.physician_administered_routes):
        return context.result("outside_formulary", None)
    if (product is not None and product.compounded) or item.formulation == "compounded":
        return context.result("compounded", None)
    status, listing = _status(context, tables)
    if status is None or listing is None:
        return context.result("status_unknown", None)
    if status == "unlisted":
        return context.result("unlisted", status)
    if status == "unclear":
        return context.result("status_unclear", status)
    brand_over_generic = product is not None and product.brand and bool(product.generic_available) \
        and item.dispense_as_written
    if status == "exempt":
        if brand_over_generic:
            return context.result("brand_over_generic", status)
        if item.dispensed_by == "physician" and not _physician_fill(context):
            return context.result("physician_dispensed", status)
        return context.result("exempt", status)
    brand_ok = not brand_over_generic or item.substantiation == "present"
    fills: tuple[tuple[OutcomeName, FillWindow, int | None, int | None], ...] = (
            ("special_fill", context.rules.special_fill_window, listing.special_fill_days, _injury_days(context)),
            ("perioperative_fill", context.rules.perioperative_fill_window, listing.perioperative_fill_days,
             _surgery_days(context)))
    for outcome, window, limit, since in fills:
        if limit is not None and _fill_applies(context, outcome, window, limit, since, brand_ok):
            return context.result(outcome, status)
    if brand_over_generic:
        return context.result("brand_over_generic", status)
    context.words["missing"] = " ".join(context.notes)
    return context.result("non_exempt", status)


def _status(context: _Context, tables: Tables) -> tuple[str | None, Listing | None]:
    """The Drug List status on the dispense day: the product's own listing, else its most restrictive ingredient's."""
    product = context.product
    if product is not None and product.listings:
        listing = listing_on(product.listings, context.day)
        if listing is not None:
            context.listings.append(_describe(product.name, listing))
            context.words["listing"] = _short(product.name, listing)
            return listing.status, listing
    if product is not None and not product.combination_listed:
        listing = Listing(context.rules.effective_from, "unlisted", None, None, product.mark,
                          "drugs.yaml: combination not listed as a combination")
        context.listings.append(f"{product.name}: the combination of {', '.join(product.ingredients)} is not "
                                f"listed as a combination [{product.mark}; drugs.yaml]")
        context.words["listing"] = f"the combination of {' and '.join(product.ingredients)} is not listed"
        return "unlisted", listing
    found: list[tuple[str, Listing]] = []
    missing: list[str] = []
    for name in context.ingredients:
        ingredient = tables.ingredient(name)
        listing = ingredient.listing_on(context.day) if ingredient else None
        if listing is None:
            missing.append(name.replace("_", " "))
        else:
            found.append((name, listing))
            context.listings.append(_describe(name, listing))
    if missing or not found:
        context.words["missing"] = ("no listing for " + ", ".join(missing)) if missing else \
            "the drug is not in the table"
        return None, None
    name, worst = min(found, key=lambda pair: _SEVERITY[pair[1].status])
    context.words["listing"] = "; ".join(_short(n, listing) for n, listing in found)
    return worst.status, worst


def _short(name: str, listing: Listing) -> str:
    return f"{name.replace('_', ' ')} {_STATUS_WORDS[listing.status]} [{listing.mark}]"


def _describe(name: str, listing: Listing) -> str:
    fills = [f"Special Fill {listing.special_fill_days} days" if listing.special_fill_days else "",
             f"Perioperative Fill {listing.perioperative_fill_days} days" if listing.perioperative_fill_days else ""]
    extra = "".join(f", {fill_text}" for fill_text in fills if fill_text)
    return (f"{name.replace('_', ' ')}: {_STATUS_WORDS[listing.status]} from {listing.from_date.isoformat()}"
            f"{extra} [{listing.mark}; {listing.source}]")


def _injury_days(context: _Context) -> int:
    return (context.day - context.case.claim.injury_date).days


def _surgery_days(context: _Context) -> int | None:
    """Days from the surgery (day 0) to the dispense day: the procedure the item accompanies, else the dated
    surgery of the record closest to the dispense day; None when no surgery date is known to the day."""
    target = context.item.ancillary_to
    dates: list[dt.date] = []
    if isinstance(target, OutsideProcedure) and target.date is not None:
        dates = _exact([target.date])
    if not dates:
        dates = _exact(s.date for s in context.case.clinical.surgeries or [] if s.date is not None)
    if not dates:
        return None
    nearest = min(dates, key=lambda surgery: abs((context.day - surgery).days))
    return (context.day - nearest).days


def _exact(values: Iterable[str]) -> list[dt.date]:
    return [bounds[0] for bounds in (date_bounds(v) for v in values) if bounds[0] == bounds[1]]


def _physician_fill(context: _Context) -> bool:
    """The one physician-dispensed supply of an Exempt drug that needs no review (9792.27.8(b))."""
    rules, item = context.rules, context.item
    context.words["limit"] = str(rules.physician_dispensed_supply_days)
    days = _injury_days(context)
    problems = _window_problems(rules.physician_dispensed_window, days, "the injury")
    if item.initial_visit is not True:
        problems.append("the initial visit is not documented" if item.initial_visit is None else
                        "it is not the initial visit")
    if item.days_supply is None:
        problems.append("the days of supply are not documented")
    elif item.days_supply > rules.physician_dispensed_supply_days:
        problems.append(f"{item.days_supply} days are dispensed")
    context.words["missing"] = "; ".join(problems)
    return not problems


def _window_problems(window: FillWindow, days: int | None, what: str) -> list[str]:
    if days is None:
        return [f"the date of {what} is not documented to the day"]
    if not window.first_day <= days <= window.last_day:
        return [f"it is {days} day(s) from {what}, outside days {window.first_day} to {window.last_day}"]
    return []


def _fill_applies(context: _Context, outcome: OutcomeName, window: FillWindow, limit: int, days: int | None,
                  brand_ok: bool) -> bool:
    """Whether a Special or Perioperative Fill applies; when it cannot be told, a note says what is missing."""
    item = context.item
    what = "the injury" if outcome == "special_fill" else "the surgery"
    problems = _window_problems(window, days, what)
    undocumented: list[str] = []
    if outcome == "special_fill" and item.initial_visit is not True:
        (undocumented if item.initial_visit is None else problems).append(
            "whether it is prescribed at the initial treatment visit" if item.initial_visit is None
            else "it is not prescribed at the initial treatment visit")
    if item.days_supply is None:
        undocumented.append("the days of supply")
    elif item.days_supply > limit:
        problems.append(f"{item.days_supply} days are dispensed, more than the {limit}-day limit")
    if not brand_ok:
        problems.append("a brand is ordered over its generic without a documented reason")
    label = "Special Fill" if outcome == "special_fill" else "Perioperative Fill"
    if not problems and undocumented:
        context.notes.append(f"A {label} of up to {limit} days could apply; not documented: "
                             + "; ".join(undocumented) + ".")
    if problems or undocumented:
        return False
    context.words.update(limit=str(limit), days=str(days), days_supply=str(item.days_supply))
    return True
