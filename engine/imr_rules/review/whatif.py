"""What would change a decision: the smallest changes to the documented facts that turn an item's outcome,
found by re-evaluating the rule base over candidate changes (no per-rule logic)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from imr_rules.cases.facts import project_item
from imr_rules.cases.model import Case
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.results import CaseResult, ItemResult
from imr_rules.rulebase.model import FactSpec, RuleBase

FIXED = {"item.service", "item.body_region", "request.date", "patient.sex", "injury.weeks_since"}
NUMBER_GRID = (0, 1, 2, 3, 4, 6, 8, 10, 12, 16, 18, 24, 30)
MAX_SINGLE = 400
MAX_PAIRS = 800
VALUES_PER_FACT_IN_PAIRS = 4
MAX_SEARCHED_ITEMS = 100
"""``explain`` searches what would change the decision for at most this many items of one case (each search
re-evaluates its item up to 1,200 times); the others say so and can be explained one by one with ``--item``."""


@dataclass(frozen=True)
class Change:
    """A set of fact changes and the outcome the item would have with them."""

    changes: tuple[tuple[str, Any, Any], ...]  # (fact, value now, value after); None means not documented
    decision: str
    basis: str | None
    rule: str | None

    @property
    def cost(self) -> int:
        """How far the change reaches: documenting a missing fact or changing the request is cheapest;
        changing a documented finding costs more; rewriting documented history (counts, dates) most."""
        total = 0
        for fact, before, _ in self.changes:
            if before is None or fact.startswith("item."):
                total += 1
            elif isinstance(before, str):
                total += 2
            else:
                total += 3
        return total

    @property
    def overrides(self) -> dict[str, Any]:
        """The changes as evaluator overrides."""
        return {fact: after for fact, _, after in self.changes}


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


def candidate_values(spec: FactSpec, current: Any, rule_base: RuleBase, item: ItemResult) -> list[Any]:
    """Values worth trying for a fact, nearest to the current one first; ``None`` means not documented."""
    if spec.kind == "finding":
        values: list[Any] = ["present", "absent"]
    elif spec.kind == "number":
        anchors = {float(v) for v in _literals(rule_base, spec.name) if isinstance(v, (int, float))}
        anchors |= {float(r.value) for c in item.criteria for r in c.reads
                    if isinstance(r.value, (int, float)) and not isinstance(r.value, bool)}
        numbers = {n + step for n in anchors for step in (-1, 0, 1)}
        if not numbers or spec.name.startswith("item."):
            numbers |= set(map(float, NUMBER_GRID))  # the request itself can be any reasonable size
        anchor = float(current) if isinstance(current, (int, float)) else 0.0
        least = 1 if spec.name.startswith("item.") else 0
        values = [int(n) if n.is_integer() else n for n in sorted(numbers, key=lambda n: (abs(n - anchor), n))
                  if n >= least]
    elif spec.kind == "enum":
        values = list(dict.fromkeys(str(v) for v in _literals(rule_base, spec.name)))
    elif spec.kind == "list":
        words = list(dict.fromkeys(str(v) for v in _literals(rule_base, spec.name)))
        base = list(current or [])
        # an empty list is how a case says "not documented" (see cases.facts), never a documented value
        values = [sorted({*base, w}) for w in words if w not in base] + [[x for x in base if x != w] or None
                                                                          for w in words if w in base]
    else:
        values = []
    return [v for v in values if v != current]


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
    """Up to ``limit`` smallest changes that turn item ``item_id``'s decision (one fact first, then two).

    ``full`` is the case's evaluation when the caller has it: passing it keeps explaining every item of
    a case linear in the number of items (each search re-evaluates only its own item).
    """
    full = full if full is not None else evaluator.evaluate(case)
    decisions: dict[str, str] = {i.item_id: i.decision for i in full.items}
    base = next(i for i in full.items if i.item_id == item_id)
    if base.decision == "Not addressed":
        return []
    item = case.item(item_id)
    rule_base = evaluator.compiled.rule_base
    current: dict[str, Any] = {r.name: r.value for c in base.criteria for r in c.reads}
    current.update({f.name: f.value if f.documented else None for f in project_item(case, item, None, decisions,
                                                                                      rule_base.vocabulary)})
    others = {k: v for k, v in decisions.items() if k != item_id}

    def outcome(overrides: dict[str, Any]) -> ItemResult:
        return evaluator.evaluate_item(case, item, others, overrides)

    blocking = _blocking_facts(rule_base, base)
    ruleset = evaluator.compiled.ruleset_for(item.service, item.body_region, case.item_request_date(item))
    readable = [f for f in (ruleset.base_facts if ruleset else []) if f not in FIXED]  # what the rules read
    facts = sorted(readable, key=lambda f: (f not in blocking, f))
    found: list[Change] = []
    pool: list[tuple[int, str, Any]] = []  # (progress score, fact, value) of single changes that did not flip
    budget = MAX_SINGLE
    for fact in facts:
        values = candidate_values(rule_base.facts[fact], current.get(fact), rule_base, base)
        scored: list[tuple[int, Any]] = []
        for value in values[:16]:
            if budget == 0:
                break
            budget -= 1
            result = outcome({fact: value})
            if result.decision not in (base.decision, "Not addressed"):
                found.append(Change(((fact, current.get(fact), value),), result.decision, result.basis, result.rule))
                break  # the nearest value for this fact is enough
            scored.append((_progress(result) - _progress(base), value))
        pool += [(score, fact, value) for score, value in _keep(scored, values)]
    if found:
        return sorted(found, key=lambda c: c.cost)[:limit]
    pool.sort(key=lambda entry: (entry[1] not in blocking, -entry[0]))
    tried: set[frozenset[str]] = set()
    for (_, fact_a, value_a), (_, fact_b, value_b) in itertools.islice(itertools.combinations(pool, 2), MAX_PAIRS):
        key = frozenset((fact_a, fact_b))
        if fact_a == fact_b or key in tried:
            continue
        result = outcome({fact_a: value_a, fact_b: value_b})
        if result.decision not in (base.decision, "Not addressed"):
            tried.add(key)  # one change per pair of facts is enough
            found.append(Change(((fact_a, current.get(fact_a), value_a), (fact_b, current.get(fact_b), value_b)),
                                result.decision, result.basis, result.rule))
    return sorted(found, key=lambda c: c.cost)[:limit]
