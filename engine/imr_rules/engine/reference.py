"""The reference engine: the compiled rulesets (the same durable_rules JSON) interpreted in plain Python.

A second opinion on durable_rules and a floor for its speed: ``tests/test_reference.py`` asserts that both
engines reach the same evaluation on every rule example, historical case, seed and thousands of generated
cases. It implements the part of durable's JSON the compiler emits, with durable's semantics:

- a rule fires once for each combination of distinct facts matching its patterns (a fact matches at most
  one pattern of a rule), as soon as the last of them is asserted; no truth maintenance, no retraction;
- tests: equality ``{"p": v}``, ``$lt $lte $gt $gte $neq`` (a missing property fails every test), ``$and``,
  ``$or``, joins ``{"p": {"pattern": "q"}}`` on another pattern's property, and ``$iany`` / ``$iall`` over a
  list with ``$i`` for its element (``$iall`` fails on an empty list, as in durable);
- the agenda: of the rules with a pending activation, the one written first runs next (durable takes the
  lowest action index, all priorities being equal), its activations in the order they arose.
Facts are kept by id; asserting an id again is ignored.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from imr_rules.engine.session import ActionHandler, AssertFact, Message, QuiescenceHandler

_ORDER = {"$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b, "$gt": lambda a, b: a > b,
          "$gte": lambda a, b: a >= b}
_MISSING = object()


def _comparable(left: Any, right: Any) -> bool:
    numbers = (int, float)
    return (isinstance(left, numbers) and isinstance(right, numbers)) or type(left) is type(right)


class _Tests:
    """Evaluates a pattern's tests against a fact, with the facts already bound to the rule's other patterns."""

    def __init__(self, bound: dict[str, Message]) -> None:
        self.bound = bound

    def operand(self, value: Any) -> Any:
        if isinstance(value, dict):
            (pattern, prop), = value.items()
            other = self.bound.get(pattern)
            return _MISSING if other is None else other.get(prop, _MISSING)
        return value

    def holds(self, test: dict[str, Any], fact: Any) -> bool:
        return all(self._one(key, value, fact) for key, value in test.items())

    def _one(self, key: str, value: Any, fact: Any) -> bool:
        if key == "$and":
            return all(self.holds(part, fact) for part in value)
        if key == "$or":
            return any(self.holds(part, fact) for part in value)
        if key in ("$iany", "$iall"):
            (prop, inner), = value.items()
            items = fact.get(prop) if isinstance(fact, dict) else None
            if not isinstance(items, list):
                return False
            matches = [self.holds(inner, {"$i": item}) for item in items]
            return any(matches) if key == "$iany" else bool(matches) and all(matches)
        if key in _ORDER or key == "$neq":
            (prop, target), = value.items()
            return self._compare(key, fact.get(prop, _MISSING), self.operand(target))
        return self._compare("$eq", fact.get(key, _MISSING) if isinstance(fact, dict) else _MISSING,
                             self.operand(value))

    @staticmethod
    def _compare(op: str, left: Any, right: Any) -> bool:
        if left is _MISSING or right is _MISSING:
            return False
        if op == "$eq":
            return _comparable(left, right) and bool(left == right)
        if op == "$neq":
            return not (_comparable(left, right) and left == right)
        return _comparable(left, right) and not isinstance(left, (list, dict)) and bool(_ORDER[op](left, right))


@dataclass(frozen=True)
class _Pattern:
    name: str
    tests: dict[str, Any]
    kind: str | None      # the fact type ("t") the pattern selects
    fact_name: str | None  # the fact name ("n") the pattern selects, when it names one


@dataclass(frozen=True)
class _Rule:
    index: int
    name: str
    patterns: tuple[_Pattern, ...]


def _pattern(name: str, tests: dict[str, Any]) -> _Pattern:
    flat = tests["$and"] if set(tests) == {"$and"} else [tests]
    kinds = [t["t"] for t in flat if len(t) == 1 and isinstance(t.get("t"), str)]
    names = [t["n"] for t in flat if len(t) == 1 and isinstance(t.get("n"), str)]
    return _Pattern(name, tests, kinds[0] if kinds else None, names[0] if names else None)


class _Session:
    """The working memory and agenda of one run."""

    def __init__(self, rules: list[_Rule], index: dict[tuple[str | None, str | None], list[tuple[_Rule, int]]]) -> None:
        self.rules = rules
        self.index = index
        self.facts: dict[str, Message] = {}
        self.by_key: dict[tuple[str | None, str | None], list[Message]] = defaultdict(list)
        self.fired: set[tuple[str, tuple[str, ...]]] = set()
        self.agenda: list[tuple[int, int, dict[str, Message]]] = []  # (rule index, arrival, bound facts)

    def candidates(self, pattern: _Pattern) -> list[Message]:
        return self.by_key[(pattern.kind, pattern.fact_name)]

    def assert_fact(self, fact: Message) -> None:
        if fact["id"] in self.facts:
            return
        self.facts[fact["id"]] = fact
        keys = {(fact.get("t"), fact.get("n")), (fact.get("t"), None), (None, None)}
        for key in keys:
            self.by_key[key].append(fact)
        for key in keys:
            for rule, position in self.index.get(key, []):
                self._activate(rule, position, fact)

    def _activate(self, rule: _Rule, position: int, fact: Message) -> None:
        others = [self.candidates(p) if i != position else [fact] for i, p in enumerate(rule.patterns)]
        for combination in itertools.product(*others):
            ids = tuple(f["id"] for f in combination)
            if len(set(ids)) < len(ids) or (rule.name, ids) in self.fired:
                continue
            bound = {p.name: f for p, f in zip(rule.patterns, combination, strict=True)}
            tests = _Tests(bound)
            if all(tests.holds(p.tests, bound[p.name]) for p in rule.patterns):
                self.fired.add((rule.name, ids))
                heapq.heappush(self.agenda, (rule.index, len(self.fired), bound))

    def next(self) -> tuple[str, dict[str, Message]] | None:
        """The next activation: of the first-written rule with one pending, the one that arose first."""
        if not self.agenda:
            return None
        index, _, bound = heapq.heappop(self.agenda)
        return self.rules[index].name, bound


class ReferenceEngine:
    """Registered rulesets interpreted in Python; the same interface as the durable adapter."""

    def __init__(self) -> None:
        self._rulesets: dict[str, tuple[list[_Rule], dict[tuple[str | None, str | None], list[tuple[_Rule, int]]]]] = {}

    def register(self, name: str, definition: dict[str, Any] | str) -> None:
        """Read a ruleset's JSON definition."""
        data = json.loads(definition) if isinstance(definition, str) else definition
        rules: list[_Rule] = []
        index: dict[tuple[str | None, str | None], list[tuple[_Rule, int]]] = defaultdict(list)
        for number, (rule_name, rule) in enumerate(data.items()):
            patterns = tuple(_pattern(pname, tests) for entry in rule["all"] for pname, tests in entry.items())
            compiled = _Rule(number, rule_name, patterns)
            rules.append(compiled)
            for position, pattern in enumerate(patterns):
                index[(pattern.kind, pattern.fact_name)].append((compiled, position))
        self._rulesets[name] = (rules, dict(index))

    def run(self, name: str, facts: list[Message], on_action: ActionHandler,
            on_quiescence: QuiescenceHandler | None = None) -> None:
        """Assert ``facts``, run every activation (first-written rule first) to quiescence, then forget them."""
        rules, index = self._rulesets[name]
        session = _Session(rules, index)
        assert_fact: AssertFact = session.assert_fact
        for fact in facts:
            session.assert_fact(fact)
        while True:
            while (activation := session.next()) is not None:
                rule_name, bound = activation
                on_action(rule_name, bound, assert_fact)
            more = on_quiescence() if on_quiescence else []
            if not more:
                return
            for fact in more:
                session.assert_fact(fact)
