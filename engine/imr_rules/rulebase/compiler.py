"""Compile stage: turn the validated rule base into durable_rules JSON rulesets, all of them, once.

Facts in a session (short explicit ids, a handful of short property names):
    base or derived fact   {"id": "f<n>", "t": "f", "n": <name>, "s": "d" | "nd", "v": <value>}
    active topic           {"id": "t<n>", "t": "tp", "n": <topic id>}
    criterion state        {"id": "c<n>", "t": "c", "n": <criterion key>, "v": met | not_met | not_documented}

Layers of rules, each reading what the one before concluded (forward chaining):
    derivations (shared, then topic-scoped) -> topic activation -> criteria -> groups -> decision.
No rule uses ``$not``: "not documented" is an explicit status, and criteria left unresolved at
quiescence are closed by the session with an explicit fact.

Routing and splitting: a requested item goes to the ruleset of its service, body region and period (the
stretch of dates over which the same guideline editions are in force). A ruleset holds only the topics
that can decide such an item, so each stays small however many topics and editions the rule base grows
to, and the activation rule need not test the service, region or date again: routing guaranteed them
(the rule still reads the three facts, so the trace shows them). Each topic and each derivation is
compiled once, as a fragment; a ruleset is the fragments of its topics and of the shared derivations
they need, rule names numbered in that order. Routes with the same topics share one ruleset.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal, Union

from imr_rules.rulebase.conditions import OPERATORS, Condition, FactRef
from imr_rules.rulebase.model import Criterion, Derivation, Located, RuleBase, Topic
from imr_rules.rulebase.templates import template_fields

Pattern = dict[str, Any]
CriterionState = Literal["met", "not_met", "not_documented"]
ANY_REGION = "*"
SENTINEL = {"all": [{"m": {"t": "sentinel"}}]}
"""Run once per ruleset at registration, so that durable never deletes a session in which nothing ran."""


@dataclass(frozen=True)
class DeriveAction:
    """Conclude derived facts; ``bindings`` maps pattern names to the facts they matched."""

    derivation: Derivation
    bindings: Mapping[str, str]


@dataclass(frozen=True)
class ActivateAction:
    """Mark a topic as applying to the item."""

    topic: Topic
    bindings: Mapping[str, str]


@dataclass(frozen=True)
class CriterionAction:
    """Record a leaf criterion's state."""

    topic: Topic
    criterion: Criterion
    state: CriterionState
    bindings: Mapping[str, str]


@dataclass(frozen=True)
class CombineAction:
    """Combine the states of a group's children (three-valued all/any)."""

    topic: Topic
    criterion: Criterion


@dataclass(frozen=True)
class DecideAction:
    """Combine a topic's top-level criteria into its outcome."""

    topic: Topic


Action = Union[DeriveAction, ActivateAction, CriterionAction, CombineAction, DecideAction]


def origin_of(action: Action) -> Located:
    """Where in the rule files the rule running ``action`` was written."""
    if isinstance(action, DeriveAction):
        return action.derivation.where
    if isinstance(action, (CriterionAction, CombineAction)):
        return action.criterion.where
    return action.topic.where


def describe(action: Action) -> dict[str, Any]:
    """A stable, JSON-ready description of an action (for snapshots and reports)."""
    if isinstance(action, DeriveAction):
        return {"derive": action.derivation.id, "bindings": dict(action.bindings)}
    if isinstance(action, ActivateAction):
        return {"activate": action.topic.id, "bindings": dict(action.bindings)}
    if isinstance(action, CriterionAction):
        return {"criterion": action.criterion.key, "state": action.state, "bindings": dict(action.bindings)}
    if isinstance(action, CombineAction):
        return {"combine": action.criterion.key, "mode": action.criterion.mode}
    return {"decide": action.topic.id}


@dataclass(frozen=True)
class CompiledRule:
    """One durable rule (``{"all": [patterns]}``) and the action it runs."""

    definition: Mapping[str, Any]
    action: Action

    @cached_property
    def text(self) -> str:
        """The rule's JSON, written once (rulesets are assembled from these texts)."""
        return json.dumps(self.definition, ensure_ascii=False)


@dataclass(frozen=True)
class Period:
    """Dates over which the same guideline editions are in force (``end`` None: open)."""

    start: dt.date
    end: dt.date | None

    def __str__(self) -> str:
        return f"{self.start} to {self.end or 'open'}"


@dataclass(frozen=True)
class Route:
    """Requested items this route takes: a service, a body region (``*``: any region no topic names), a period."""

    service: str
    region: str
    period: Period


@dataclass(frozen=True)
class CompiledRuleset:
    """One durable ruleset: its JSON text, the action of each rule, its topics and the routes that use it."""

    name: str
    actions: Mapping[str, Action]
    rules: tuple[tuple[str, CompiledRule], ...]
    topics: tuple[Topic, ...]
    derivations: tuple[Derivation, ...]
    base_facts: tuple[str, ...]
    routes: tuple[Route, ...]

    @cached_property
    def definition_json(self) -> str:
        """The ruleset as durable_rules takes it: a sentinel rule, then every rule by name (written once)."""
        texts = [f'"sentinel": {json.dumps(SENTINEL)}', *(f'"{name}": {rule.text}' for name, rule in self.rules)]
        return "{" + ", ".join(texts) + "}"

    @property
    def definition(self) -> dict[str, Any]:
        """A fresh copy of the definition (the compiled ruleset itself cannot be changed)."""
        data: dict[str, Any] = json.loads(self.definition_json)
        return data


@dataclass(frozen=True)
class CompiledRuleBase:
    """The whole rule base compiled: every ruleset, the routes to them and the short ids of facts in a session."""

    rule_base: RuleBase
    rulesets: Mapping[str, CompiledRuleset]
    periods: tuple[Period, ...]
    fact_ids: Mapping[str, str]
    topic_ids: Mapping[str, str]
    criterion_ids: Mapping[str, str]
    fragments: Mapping[str, tuple[CompiledRule, ...]]
    _routes: Mapping[tuple[str, str, int], str] = field(repr=False)
    _named_regions: Mapping[str, frozenset[str]] = field(repr=False)

    def period_of(self, on: dt.date) -> int | None:
        """Index of the period holding ``on`` (None: before every guideline's period)."""
        starts = [period.start for period in self.periods]
        index = bisect.bisect_right(starts, on) - 1
        if index < 0:
            return None
        end = self.periods[index].end
        return index if end is None or on <= end else None

    def route_region(self, service: str, region: str) -> str:
        """The region key a service's routes use for ``region``: itself if a topic names it, else ``*``."""
        return region if region in self._named_regions.get(service, frozenset()) else ANY_REGION

    def ruleset_for(self, service: str, region: str, on: dt.date) -> CompiledRuleset | None:
        """The ruleset deciding ``service`` in ``region`` requested on ``on`` (None: no topic can decide it)."""
        period = self.period_of(on)
        if period is None:
            return None
        name = self._routes.get((service, self.route_region(service, region), period))
        return self.rulesets[name] if name is not None else None

    def candidates(self, service: str, region: str) -> list[Topic]:
        """Every topic for ``service`` in ``region``, whatever its period."""
        return [t for t in self.rule_base.topics if service in t.services
                and (t.body_regions is None or region in t.body_regions)]


# ---- patterns ------------------------------------------------------------------------------------------
def fact_pattern(name: str, documented: bool | None = True) -> list[Pattern]:
    """The tests that select a fact by name and documentation status."""
    tests: list[Pattern] = [{"t": "f"}, {"n": name}]
    if documented is not None:
        tests.append({"s": "d" if documented else "nd"})
    return tests


class _Patterns:
    """The patterns of one rule, with every test on the same fact merged into that fact's one pattern.

    durable_rules lets a fact match at most one pattern of a rule: two conditions on one fact written as two
    patterns would never fire together (reproduced: ``x >= 5`` and ``x <= 50`` as two patterns never fire).
    """

    def __init__(self) -> None:
        self._patterns: dict[str, list[Pattern]] = {}
        self._by_fact: dict[str, str] = {}

    def items(self) -> list[tuple[str, list[Pattern]]]:
        """The patterns in the order they were first needed."""
        return list(self._patterns.items())

    def other(self, name: str, tests: list[Pattern]) -> None:
        """A pattern on something other than a case fact (topic, criterion)."""
        self._patterns[name] = tests

    def fact(self, fact: str, documented: bool | None = True) -> str:
        """The pattern name of ``fact``, created on first use; adds the documentation status test."""
        pname = self._by_fact.get(fact)
        if pname is None:
            pname = f"p{len(self._by_fact)}"
            self._by_fact[fact] = pname
            self._patterns[pname] = fact_pattern(fact, None)
        if documented is not None:
            status = {"s": "d" if documented else "nd"}
            if status not in self._patterns[pname]:
                self._patterns[pname].append(status)
        return pname

    def condition(self, condition: Condition, op: str) -> None:
        """Add the tests under which ``condition`` holds with operator ``op`` (its own or its negation)."""
        if op == "not_documented":
            self.fact(condition.fact, documented=False)
            return
        if op == "documented":
            self.fact(condition.fact)
            return
        join = self.fact(condition.operand.name) if isinstance(condition.operand, FactRef) else None
        pname = self.fact(condition.fact)
        operator = OPERATORS[op]
        self._patterns[pname].extend(operator.tests(condition.operand, join))

    def bindings(self) -> Mapping[str, str]:
        """Pattern name -> fact name, for the action to read the matched facts."""
        return MappingProxyType({pname: fact for fact, pname in self._by_fact.items()})

    def rule(self, action: Action) -> CompiledRule:
        """The rule made of these patterns."""
        return CompiledRule({"all": [{pname: {"$and": tests}} for pname, tests in self.items()]}, action)


def _topic_patterns(topic: Topic) -> _Patterns:
    patterns = _Patterns()
    patterns.other("tp", [{"t": "tp"}, {"n": topic.id}])
    return patterns


# ---- fragments: the rules of one derivation or one topic ------------------------------------------------
def _derivation_rule(derivation: Derivation, topic: Topic | None) -> CompiledRule:
    patterns = _topic_patterns(topic) if topic else _Patterns()
    for condition in derivation.when:
        patterns.condition(condition, condition.op)
    for _, expression in derivation.conclusions:
        for fact in expression.facts_read:
            patterns.fact(fact)
    return patterns.rule(DeriveAction(derivation, patterns.bindings()))


def _activation_rule(topic: Topic) -> CompiledRule:
    """The topic applies: its own conditions hold (service, region and date were settled by routing)."""
    patterns = _Patterns()
    for fact in ROUTED_FACTS if topic.body_regions else ROUTED_FACTS[:2]:
        patterns.fact(fact)
    for condition in topic.when:
        patterns.condition(condition, condition.op)
    return patterns.rule(ActivateAction(topic, patterns.bindings()))


def _leaf_rules(topic: Topic, criterion: Criterion) -> list[CompiledRule]:
    condition = criterion.test
    assert condition is not None
    op = condition.op
    outcomes: list[tuple[CriterionState, str]] = [("met", op)]
    if op == "not_documented":
        outcomes.append(("not_met", "documented"))
    elif op != "documented":
        outcomes.append(("not_met", condition.negated_op()))
    rules = []
    for state, test_op in outcomes:
        patterns = _topic_patterns(topic)
        patterns.condition(condition, test_op)
        rules.append(patterns.rule(CriterionAction(topic, criterion, state, patterns.bindings())))
    if op != "not_documented":
        for fact in dict.fromkeys(condition.facts_read):
            patterns = _topic_patterns(topic)
            patterns.fact(fact, documented=False)
            rules.append(patterns.rule(CriterionAction(topic, criterion, "not_documented", patterns.bindings())))
    return rules


def _group_rule(topic: Topic, parent: Criterion | None, children: list[Criterion]) -> CompiledRule:
    patterns = _topic_patterns(topic)
    for index, child in enumerate(children):
        patterns.other(f"k{index}", [{"t": "c"}, {"n": child.key}])
    return patterns.rule(CombineAction(topic, parent) if parent else DecideAction(topic))


def _topic_rules(topic: Topic) -> tuple[CompiledRule, ...]:
    rules = [_activation_rule(topic)]
    rules += [_derivation_rule(derivation, topic) for derivation in topic.derive]
    for criterion in topic.all_criteria():
        if criterion.mode == "test":
            rules += _leaf_rules(topic, criterion)
        else:
            rules.append(_group_rule(topic, criterion, criterion.children))
    rules.append(_group_rule(topic, None, topic.criteria))
    return tuple(rules)


# ---- what a ruleset needs -------------------------------------------------------------------------------
ROUTED_FACTS = ("item.service", "request.date", "item.body_region")
"""Facts routing settles; every activation rule reads them (the region only when the topic names regions)."""
ACTIVATION_FACTS = frozenset(ROUTED_FACTS)


def facts_needed(topics: Iterable[Topic]) -> set[str]:
    """Facts the topics read directly: applicability, topic derivations, criteria."""
    needed: set[str] = set()
    for topic in topics:
        for condition in topic.when:
            needed.update(condition.facts_read)
        for derivation in topic.derive:
            needed.update(_derivation_inputs(derivation))
        for leaf in (c for criterion in topic.criteria for c in criterion.leaves()):
            assert leaf.test is not None
            needed.update(leaf.test.facts_read)
    return needed


def _derivation_inputs(derivation: Derivation) -> set[str]:
    inputs = {f for condition in derivation.when for f in condition.facts_read}
    return inputs | {f for _, expression in derivation.conclusions for f in expression.facts_read}


def _template_facts(topics: Iterable[Topic]) -> set[str]:
    """Facts the rationale and criterion templates of ``topics`` print, so they are projected too."""
    texts: list[str] = []
    for topic in topics:
        texts += [topic.rationale.overturned, topic.rationale.upheld, topic.rationale.not_documented]
        texts += [d.assumes or "" for d in topic.derive]
        for criterion in topic.all_criteria():
            if criterion.texts is not None:
                texts += [criterion.texts.met, criterion.texts.not_met, criterion.texts.not_documented]
    return {name for text in texts for name in template_fields(text)}


class _Needs:
    """What each topic and derivation reads, computed once for the whole rule base."""

    def __init__(self, rule_base: RuleBase) -> None:
        self.rule_base = rule_base
        self.topic_reads = {t.id: facts_needed([t]) for t in rule_base.topics}
        self.topic_prints = {t.id: _template_facts([t]) for t in rule_base.topics}
        self.inputs = [_derivation_inputs(d) for d in rule_base.derivations]
        self.prints = [set(template_fields(d.assumes or "")) for d in rule_base.derivations]
        self.concluding: dict[str, list[int]] = {}
        for index, derivation in enumerate(rule_base.derivations):
            for name, _ in derivation.conclusions:
                self.concluding.setdefault(name, []).append(index)
        self.case_facts = [name for name, spec in rule_base.facts.items() if spec.origin == "case"]

    def shared(self, topics: list[Topic]) -> tuple[list[Derivation], tuple[str, ...]]:
        """The shared derivations ``topics`` need (in order) and the base facts the ruleset must project."""
        read = set(ACTIVATION_FACTS)
        for topic in topics:
            read |= self.topic_reads[topic.id] | self.topic_prints[topic.id]
        chosen: set[int] = set()
        pending = list(read)
        while pending:
            for index in self.concluding.get(pending.pop(), ()):
                if index not in chosen:
                    chosen.add(index)
                    new = self.inputs[index] - read
                    read |= new
                    pending.extend(new)
        for index in chosen:
            read |= self.prints[index]  # printed by an assumption: projected, but not derived for
        derivations = [self.rule_base.derivations[index] for index in sorted(chosen)]
        return derivations, tuple(name for name in self.case_facts if name in read)


# ---- routes -----------------------------------------------------------------------------------------------
def periods_of(rule_base: RuleBase) -> tuple[Period, ...]:
    """The stretches of dates between every start and end of a guideline edition, in order."""
    bounds: set[dt.date] = set()
    for guideline in rule_base.guidelines.values():
        bounds.add(guideline.effective_from)
        if guideline.effective_to is not None:
            bounds.add(guideline.effective_to + dt.timedelta(days=1))
    ordered = sorted(bounds)
    return tuple(Period(start, ordered[i + 1] - dt.timedelta(days=1) if i + 1 < len(ordered) else None)
                 for i, start in enumerate(ordered))


def _named_regions(rule_base: RuleBase) -> dict[str, frozenset[str]]:
    named: dict[str, set[str]] = {}
    for topic in rule_base.topics:
        for service in topic.services:
            named.setdefault(service, set()).update(topic.body_regions or ())
    return {service: frozenset(regions) for service, regions in named.items()}


def _topics_for(by_service: dict[str, list[Topic]], route: Route) -> list[Topic]:
    return [t for t in by_service.get(route.service, []) if (t.body_regions is None or route.region in t.body_regions)
            and t.guideline.in_force(route.period.start)]


def _routes(rule_base: RuleBase, periods: tuple[Period, ...],
            named: dict[str, frozenset[str]]) -> list[tuple[tuple[str, str, int], Route]]:
    routes = []
    for service in sorted(named):
        for region in [*sorted(named[service]), ANY_REGION]:
            for index, period in enumerate(periods):
                routes.append(((service, region, index), Route(service, region, period)))
    return routes


# ---- the compiled rule base -------------------------------------------------------------------------------
def fragment_key(element: Topic | Derivation) -> str:
    """The key of the rules compiled from a topic or a shared derivation."""
    return f"topic {element.id}" if isinstance(element, Topic) else f"derivation {element.id}"


def _assemble(name: str, needs: _Needs, topics: list[Topic], fragments: Mapping[str, tuple[CompiledRule, ...]],
              routes: list[Route]) -> CompiledRuleset:
    shared, base_facts = needs.shared(topics)
    parts = [*(fragments[fragment_key(d)] for d in shared), *(fragments[fragment_key(t)] for t in topics)]
    rules = tuple((f"r{index}", rule) for index, rule in enumerate(rule for part in parts for rule in part))
    actions = MappingProxyType({rule_name: rule.action for rule_name, rule in rules})
    return CompiledRuleset(name, actions, rules, tuple(topics), tuple(shared), base_facts, tuple(routes))


def _ruleset_name(route: Route) -> str:
    region = "any" if route.region == ANY_REGION else route.region
    return f"imr_{route.service}_{region}_{route.period.start:%Y%m%d}"


def compile_rule_base(rule_base: RuleBase) -> CompiledRuleBase:
    """Every ruleset of the rule base, compiled now; routes with the same topics share one ruleset."""
    fragments: dict[str, tuple[CompiledRule, ...]] = {
        fragment_key(d): (_derivation_rule(d, None),) for d in rule_base.derivations}
    fragments.update({fragment_key(topic): _topic_rules(topic) for topic in rule_base.topics})
    periods = periods_of(rule_base)
    named = _named_regions(rule_base)
    needs = _Needs(rule_base)
    by_topics: dict[tuple[str, ...], list[tuple[tuple[str, str, int], Route]]] = {}
    topic_lists: dict[tuple[str, ...], list[Topic]] = {}
    by_service: dict[str, list[Topic]] = {}
    for topic in rule_base.topics:
        for service in topic.services:
            by_service.setdefault(service, []).append(topic)
    for key, route in _routes(rule_base, periods, named):
        topics = _topics_for(by_service, route)
        if topics:
            ids = tuple(t.id for t in topics)
            by_topics.setdefault(ids, []).append((key, route))
            topic_lists[ids] = topics
    rulesets: dict[str, CompiledRuleset] = {}
    routes: dict[tuple[str, str, int], str] = {}
    for ids, keyed in by_topics.items():
        name = _ruleset_name(keyed[0][1])
        rulesets[name] = _assemble(name, needs, topic_lists[ids], fragments, [route for _, route in keyed])
        routes.update({key: name for key, _ in keyed})
    keys = [c.key for topic in rule_base.topics for c in topic.all_criteria()]
    return CompiledRuleBase(
        rule_base=rule_base, rulesets=MappingProxyType(rulesets), periods=periods,
        fact_ids=MappingProxyType({name: f"f{i}" for i, name in enumerate(rule_base.facts)}),
        topic_ids=MappingProxyType({topic.id: f"t{i}" for i, topic in enumerate(rule_base.topics)}),
        criterion_ids=MappingProxyType({key: f"c{i}" for i, key in enumerate(keys)}),
        fragments=MappingProxyType(fragments), _routes=MappingProxyType(routes),
        _named_regions=MappingProxyType(named))


def snapshot(compiled: CompiledRuleBase) -> dict[str, Any]:
    """The compiled rule base as stable JSON data: every fragment's rules and actions, every ruleset's make-up.

    Snapshot tests compare this with ``tests/snapshots/compiled/`` to catch unintended compiler changes.
    """
    fragments = {origin: [{"rule": rule.definition, "action": describe(rule.action)} for rule in rules]
                 for origin, rules in compiled.fragments.items()}
    rulesets = {name: {"topics": [t.id for t in ruleset.topics], "derivations": [d.id for d in ruleset.derivations],
                       "base_facts": list(ruleset.base_facts), "rules": len(ruleset.actions),
                       "routes": [f"{r.service}/{r.region}/{r.period}" for r in ruleset.routes]}
                for name, ruleset in sorted(compiled.rulesets.items())}
    return {"periods": [str(period) for period in compiled.periods], "fragments": fragments, "rulesets": rulesets}
