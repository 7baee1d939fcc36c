"""What would change a decision: the fewest documentation or request changes that turn an item's outcome,
found by re-evaluating the rule base over candidate changes (no per-rule logic).

Only changes a treating physician could make are searched, as ``rules/facts.yaml`` says per fact
(``change``): documenting a finding, response, monitoring or goal the record leaves not documented
(``document``), or changing the request itself (``request``). History (visits given, dates, age, the injury,
surgeries done) is never changed, and a documented finding is never turned into its opposite. Each change
is worded from the fact's ``offer`` (or the catalogue's ``offer_wording``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from imr_rules.cases.facts import project_item
from imr_rules.cases.model import Case
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.results import CaseResult, ItemResult
from imr_rules.rulebase.model import FactSpec, RuleBase
from imr_rules.rulebase.templates import fill, format_value
from imr_rules.rulebase.validator import VOCABULARY_VALUES

CHANGEABLE = ("document", "request")
"""The ``change`` kinds what-if searches; ``none`` (history) is never changed."""
NUMBER_GRID = (0, 1, 2, 3, 4, 6, 8, 10, 12, 16, 18, 24, 30)
VALUES_PER_FACT = 16
MAX_SINGLE = 400
MAX_PAIRS = 800
VALUES_PER_FACT_IN_PAIRS = 4
MAX_SEARCHED_ITEMS = 100
"""``explain`` searches what would change the decision for at most this many items of one case (each search
re-evaluates its item up to 1,200 times); the others say so and can be explained one by one with ``--item``."""


@dataclass(frozen=True)
class Change:
    """A set of fact changes, how each is offered to the treating physician, and the outcome with them."""

    changes: tuple[tuple[str, Any, Any], ...]  # (fact, value now, value after); None means not documented
    offers: tuple[str, ...]  # one phrase per change, worded from rules/facts.yaml
    decision: str
    basis: str | None
    rule: str | None
    cost: int
    """How much the offer asks: documenting a finding or changing the request counts 1 per fact; documenting
    a value (a number, a term, a word of a list) 2, as it asserts more than that a finding is there."""

    @property
    def overrides(self) -> dict[str, Any]:
        """The changes as evaluator overrides."""
        return {fact: after for fact, _, after in self.changes}


def can_change(spec: FactSpec) -> bool:
    """True when what-if may offer a change of this fact (``change: document`` or ``request``)."""
    return spec.change in CHANGEABLE


def _blocking_facts(rule_base: RuleBase, item: ItemResult) -> set[str]:
    """Base facts behind the criteria that are not met: the ones worth changing first."""
    pending = [r.name for c in item.criteria if c.state != "met" for r in c.reads]
    pending += [name.strip() for c in item.criteria if c.note and c.note.startswith("not established:")
                for name in c.note.split(":", 1)[1].split(",")]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found or name not in rule_base.facts:
            continue
        found.add(name)
        for derivation in rule_base.derivations_of(name):
            pending += [f for c in derivation.when for f in c.facts_read]
            pending += [f for _, e in derivation.conclusions for f in e.facts_read]
    return found


def _literals(rule_base: RuleBase, fact: str) -> list[Any]:
    conditions = [c for d in rule_base.derivations for c in d.when]
    for topic in rule_base.topics:
        conditions += topic.when + [c for d in topic.derive for c in d.when]
        conditions += [c.test for c in topic.all_criteria() if c.test is not None]
    return [value for condition in conditions if condition.fact == fact
            for value in condition.operator.literals(condition.operand)]


def _numbers(spec: FactSpec, current: Any, rule_base: RuleBase, item: ItemResult) -> list[Any]:
    """Numbers nearest to the current one first; a request of no stated size is tried from the largest down,
    so that the first that turns the decision is the most the physician can ask for."""
    anchors = {float(v) for v in _literals(rule_base, spec.name) if isinstance(v, (int, float))}
    anchors |= {float(r.value) for c in item.criteria for r in c.reads
                if isinstance(r.value, (int, float)) and not isinstance(r.value, bool)}
    numbers = {n + step for n in anchors for step in (-1, 0, 1)}
    request = spec.change == "request"
    if not numbers or request:
        numbers |= set(map(float, NUMBER_GRID))  # the request itself can be any reasonable size
    least = 1 if request else 0
    if request and not isinstance(current, (int, float)):
        order = sorted(numbers, reverse=True)
    else:
        anchor = float(current) if isinstance(current, (int, float)) else 0.0
        order = sorted(numbers, key=lambda n: (abs(n - anchor), n))
    return [int(n) if n.is_integer() else n for n in order if n >= least]


def _list_values(spec: FactSpec, current: Any, rule_base: RuleBase) -> list[Any]:
    """Documenting adds a word the record lacks; changing the request narrows it (drops one word)."""
    words = list(dict.fromkeys(str(v) for v in _literals(rule_base, spec.name)))
    base = list(current or [])
    # an empty list is how a case says "not documented" (see cases.facts), never a documented value
    if spec.change == "document":
        return [sorted({*base, w}) for w in words if w not in base]
    return [[x for x in base if x != w] for w in words if w in base and len(base) > 1]


def candidate_values(spec: FactSpec, current: Any, rule_base: RuleBase, item: ItemResult) -> list[Any]:
    """Values a physician could make the fact take, nearest to the current one first (``None``: not
    documented): a fact that is history has none; a documented finding or value is never turned around."""
    if not can_change(spec) or spec.kind not in ("finding", "number", "enum", "list"):
        return []
    if spec.kind == "list":
        return _list_values(spec, current, rule_base)
    if spec.change == "document" and current is not None:
        return []
    values: list[Any]
    if spec.kind == "finding":
        values = ["present", "absent"] if spec.change == "request" or _absent_wording(spec, rule_base) else ["present"]
    elif spec.kind == "number":
        values = _numbers(spec, current, rule_base, item)
    else:
        values = list(dict.fromkeys(str(v) for v in _literals(rule_base, spec.name)))
    return [v for v in values if v != current]


def _absent_wording(spec: FactSpec, rule_base: RuleBase) -> str | None:
    """How documenting the finding as absent is worded: its own ``offer_absent``; a vocabulary finding may
    use the catalogue's wording (a base finding without ``offer_absent`` is never offered as absent)."""
    if spec.offer_absent is not None or spec.offer is not None:
        return spec.offer_absent
    return rule_base.offer_wording.get("absent")


def _words(rule_base: RuleBase, fact: str, value: Any) -> str:
    """A value as an offer shows it: vocabulary terms by their label; a request that does not say is
    "not stated" (the request is not documentation)."""
    if value is None and rule_base.facts[fact].change == "request":
        return "not stated"
    kind = VOCABULARY_VALUES.get(fact)

    def word(term: Any) -> str:
        vocabulary = rule_base.vocabulary
        if kind is not None and isinstance(term, str) and vocabulary.has(kind, term):
            return vocabulary.term(kind, term).label
        return format_value(term)

    if isinstance(value, list):
        return ", ".join(word(v) for v in value)
    return word(value)


def offer_text(rule_base: RuleBase, fact: str, before: Any, after: Any) -> str:
    """How the change of one fact is offered, worded from ``rules/facts.yaml``."""
    spec = rule_base.facts[fact]
    wording = rule_base.offer_wording
    if spec.kind == "finding" and spec.change == "document":
        template = (spec.offer or wording.get("present")) if after == "present" else _absent_wording(spec, rule_base)
    else:
        template = spec.offer or wording.get("value" if spec.change == "document" else "request")
    shown = after
    if isinstance(after, list) and spec.change == "document":
        shown = [w for w in after if w not in (before or [])]  # the words documented, not the whole list
    fields = {"fact": spec.wording or spec.description, "value": _words(rule_base, fact, shown),
              "now": _words(rule_base, fact, before)}
    return fill(template or "{fact}: {value} (now {now})", lambda name: fields.get(name, "{" + name + "}"))


def _cost(rule_base: RuleBase, changes: tuple[tuple[str, Any, Any], ...]) -> int:
    return sum(1 if rule_base.facts[fact].kind == "finding" or rule_base.facts[fact].change == "request" else 2
               for fact, _, _ in changes)


def _progress(result: ItemResult) -> int:
    """How close an outcome is to Overturned: met criteria count, unmet ones count against."""
    return sum(2 if c.state == "met" else (-1 if c.state == "not_met" else 0) for c in result.criteria)


def _keep(scored: list[tuple[int, Any]], values: list[Any]) -> list[tuple[int, Any]]:
    """The values of one fact worth combining with others: the two that helped most, and the extremes."""
    best = sorted(scored, key=lambda entry: -entry[0])[:2]
    numbers = [v for v in values if isinstance(v, (int, float))]
    extremes = [min(numbers), max(numbers)] if numbers else []
    kept = list(best)
    for value in extremes:
        if all(value != v for _, v in kept):
            kept.append((next((score for score, v in scored if v == value), 0), value))
    return kept[:VALUES_PER_FACT_IN_PAIRS]


def what_would_change(evaluator: Evaluator, case: Case, item_id: str, limit: int = 5,
                      full: CaseResult | None = None) -> list[Change]:
    """Up to ``limit`` offers that turn item ``item_id``'s decision, fewest facts first, then cheapest (among
    equals, facts an unmet criterion reads itself come before facts it reads through a derivation).

    One fact is tried first, then two. ``full`` is the case's evaluation when the caller has it: passing it
    keeps explaining every item of a case linear in the number of items (each search re-evaluates only its
    own item).
    """
    full = full if full is not None else evaluator.evaluate(case)
    decisions: dict[str, str] = {i.item_id: i.decision for i in full.items}
    base = next(i for i in full.items if i.item_id == item_id)
    if base.decision in ("Not addressed", "Needs licensed guideline"):
        return []
    item = case.item(item_id)
    rule_base = evaluator.compiled.rule_base
    current: dict[str, Any] = {r.name: r.value for c in base.criteria for r in c.reads}
    current.update({f.name: f.value if f.documented else None for f in project_item(case, item, None, decisions,
                                                                                      rule_base.vocabulary)})
    others = {k: v for k, v in decisions.items() if k != item_id}

    def outcome(overrides: dict[str, Any]) -> ItemResult:
        return evaluator.evaluate_item(case, item, others, overrides)

    def change(*pairs: tuple[str, Any], result: ItemResult) -> Change:
        changes = tuple((fact, current.get(fact), value) for fact, value in pairs)
        return Change(changes, tuple(offer_text(rule_base, *c) for c in changes), result.decision, result.basis,
                      result.rule, _cost(rule_base, changes))

    blocking = _blocking_facts(rule_base, base)
    direct = {r.name for c in base.criteria if c.state != "met" for r in c.reads}  # read by an unmet criterion
    ruleset = evaluator.compiled.ruleset_for(item.service, item.body_region, case.item_request_date(item))
    readable = [f for f in (ruleset.base_facts if ruleset else []) if can_change(rule_base.facts[f])]
    facts = sorted(readable, key=lambda f: (f not in blocking, f not in direct, f))
    found: list[Change] = []
    pool: list[tuple[int, str, Any]] = []  # (progress score, fact, value) of single changes that did not flip
    budget = MAX_SINGLE
    for fact in facts:
        values = candidate_values(rule_base.facts[fact], current.get(fact), rule_base, base)
        scored: list[tuple[int, Any]] = []
        for value in values[:VALUES_PER_FACT]:
            if budget == 0:
                break
            budget -= 1
            result = outcome({fact: value})
            if result.decision not in (base.decision, "Not addressed", "Needs licensed guideline"):
                found.append(change((fact, value), result=result))
                break  # the nearest value for this fact is enough
            scored.append((_progress(result) - _progress(base), value))
        pool += [(score, fact, value) for score, value in _keep(scored, values)]
    if not found:
        pool.sort(key=lambda entry: (entry[1] not in blocking, -entry[0]))
        tried: set[frozenset[str]] = set()
        for (_, fact_a, value_a), (_, fact_b, value_b) in itertools.islice(itertools.combinations(pool, 2),
                                                                           MAX_PAIRS):
            key = frozenset((fact_a, fact_b))
            if fact_a == fact_b or key in tried:
                continue
            result = outcome({fact_a: value_a, fact_b: value_b})
            if result.decision not in (base.decision, "Not addressed", "Needs licensed guideline"):
                tried.add(key)  # one change per pair of facts is enough
                found.append(change((fact_a, value_a), (fact_b, value_b), result=result))
    return sorted(found, key=lambda c: (len(c.changes), c.cost))[:limit]
