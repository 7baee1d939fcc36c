"""Compile stage: turn the validated rule base into durable_rules JSON rulesets, one per service.

Facts in a session (short explicit ids, a handful of short property names):
    base or derived fact   {"id": "f<n>", "t": "f", "n": <name>, "s": "d" | "nd", "v": <value>}
    active topic           {"id": "t<n>", "t": "tp", "n": <topic id>}
    criterion state        {"id": "c<n>", "t": "c", "n": <criterion key>, "v": met | not_met | not_documented}

Layers of rules, each reading what the one before concluded (forward chaining):
    derivations (shared, then topic-scoped) -> topic activation -> criteria -> groups -> decision.
No rule uses ``$not``: "not documented" is an explicit status, and criteria left unresolved at
quiescence are closed by the evaluator with an explicit fact (see evaluator.close_unresolved).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from imr_rules.rulebase.conditions import Condition, FactRef
from imr_rules.rulebase.model import Criterion, Derivation, RuleBase, Topic

Pattern = dict[str, Any]
CriterionState = Literal["met", "not_met", "not_documented"]


@dataclass(frozen=True)
class DeriveAction:
    """Conclude derived facts; ``bindings`` maps pattern names to the facts they matched."""

    derivation: Derivation
    bindings: dict[str, str]


@dataclass(frozen=True)
class ActivateAction:
    """Mark a topic as applying to the item."""

    topic: Topic
    bindings: dict[str, str]


@dataclass(frozen=True)
class CriterionAction:
    """Record a leaf criterion's state."""

    topic: Topic
    criterion: Criterion
    state: CriterionState
    bindings: dict[str, str]


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


@dataclass
class CompiledRuleset:
    """One durable ruleset (JSON definition) with the action each of its rules runs."""

    name: str
    definition: dict[str, Any]
    actions: dict[str, Action]
    topics: list[Topic]
    base_facts: list[str]


@dataclass
class CompiledRuleBase:
    """The rule base compiled for the engine: a ruleset per service and region (compiled when first needed)."""

    rule_base: RuleBase
    services: frozenset[str]
    criterion_ids: dict[str, str] = field(default_factory=dict)
    topic_ids: dict[str, str] = field(default_factory=dict)
    fact_ids: dict[str, str] = field(default_factory=dict)
    _compiled: dict[str, CompiledRuleset] = field(default_factory=dict)

    def ruleset(self, service: str, region: str | None = None) -> CompiledRuleset | None:
        """The ruleset deciding ``service`` in ``region`` (None: no rule addresses it), compiled on first use.

        Routing by region as well as service keeps each network small: a case only pays for the joins of
        the topics that can apply to it.
        """
        if service not in self.services:
            return None
        key = f"{service}.{region}" if region else service
        if key not in self._compiled:
            self._compiled[key] = _compile_service(self.rule_base, service, region)
        return self._compiled[key]

    @property
    def rulesets(self) -> dict[str, CompiledRuleset]:
        """Every service's ruleset over all regions (compiles all of them)."""
        return {service: ruleset for service in sorted(self.services)
                if (ruleset := self.ruleset(service)) is not None}


def fact_pattern(name: str, documented: bool | None = True) -> list[Pattern]:
    """The tests that select a fact by name and documentation status."""
    tests: list[Pattern] = [{"t": "f"}, {"n": name}]
    if documented is not None:
        tests.append({"s": "d" if documented else "nd"})
    return tests


def value_tests(op: str, operand: Any, join: str | None) -> list[Pattern]:
    """The tests on ``v`` for an operator; ``join`` names the pattern of a fact operand."""
    target: Any = {join: "v"} if join else operand
    simple = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
    if op in ("present", "absent"):
        return [{"v": op}]
    if op == "==":
        return [{"v": target}]
    if op in simple:
        return [{simple[op]: {"v": target}}]
    if op == "in":
        return [{"$or": [{"v": value} for value in operand]}]
    if op == "not in":
        return [{"$neq": {"v": value}} for value in operand]
    if op == "contains":
        return [{"$iany": {"v": {"$i": operand}}}]
    if op == "lacks":
        return [{"$iall": {"v": {"$neq": {"$i": operand}}}}]
    return []


class _RuleWriter:
    """Accumulates the rules of one ruleset with short names."""

    def __init__(self) -> None:
        self.definition: dict[str, Any] = {}
        self.actions: dict[str, Action] = {}

    def add(self, patterns: _Patterns, action: Action) -> None:
        name = f"r{len(self.definition)}"
        self.definition[name] = {"all": [{pname: {"$and": tests}} for pname, tests in patterns.items()]}
        self.actions[name] = action


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
        """Add the tests under which ``condition`` holds with operator ``op``."""
        if op == "not_documented":
            self.fact(condition.fact, documented=False)
            return
        if op == "documented":
            self.fact(condition.fact)
            return
        join = self.fact(condition.operand.name) if isinstance(condition.operand, FactRef) else None
        pname = self.fact(condition.fact)
        self._patterns[pname].extend(value_tests(op, condition.operand, join))

    def test(self, fact: str, tests: list[Pattern]) -> None:
        """Add value tests on a documented ``fact``."""
        self._patterns[self.fact(fact)].extend(tests)

    def bindings(self) -> dict[str, str]:
        """Pattern name -> fact name, for the action to read the matched facts."""
        return {pname: fact for fact, pname in self._by_fact.items()}


def _topic_patterns(topic: Topic) -> _Patterns:
    patterns = _Patterns()
    patterns.other("tp", [{"t": "tp"}, {"n": topic.id}])
    return patterns


def _compile_derivation(writer: _RuleWriter, derivation: Derivation, topic: Topic | None) -> None:
    patterns = _topic_patterns(topic) if topic else _Patterns()
    for condition in derivation.when:
        patterns.condition(condition, condition.op)
    for _, expression in derivation.conclusions:
        for fact in expression.facts_read:
            patterns.fact(fact)
    writer.add(patterns, DeriveAction(derivation, patterns.bindings()))


def _compile_activation(writer: _RuleWriter, topic: Topic) -> None:
    guideline = topic.guideline
    patterns = _Patterns()
    patterns.test("item.service", value_tests("in", topic.services, None))
    date_tests: list[Pattern] = [{"$gte": {"v": int(guideline.effective_from.strftime("%Y%m%d"))}}]
    if guideline.effective_to is not None:
        date_tests.append({"$lte": {"v": int(guideline.effective_to.strftime("%Y%m%d"))}})
    patterns.test("request.date", date_tests)
    if topic.body_regions:
        patterns.test("item.body_region", value_tests("in", topic.body_regions, None))
    for condition in topic.when:
        patterns.condition(condition, condition.op)
    writer.add(patterns, ActivateAction(topic, patterns.bindings()))


def _compile_leaf(writer: _RuleWriter, topic: Topic, criterion: Criterion) -> None:
    condition = criterion.test
    assert condition is not None
    op = condition.op
    outcomes: list[tuple[CriterionState, str]] = [("met", op)]
    if op == "not_documented":
        outcomes.append(("not_met", "documented"))
    elif op != "documented":
        outcomes.append(("not_met", condition.negated_op()))
    for state, test_op in outcomes:
        patterns = _topic_patterns(topic)
        patterns.condition(condition, test_op)
        writer.add(patterns, CriterionAction(topic, criterion, state, patterns.bindings()))
    if op != "not_documented":
        for fact in dict.fromkeys(condition.facts_read):
            patterns = _topic_patterns(topic)
            patterns.fact(fact, documented=False)
            writer.add(patterns, CriterionAction(topic, criterion, "not_documented", patterns.bindings()))


def _compile_group(writer: _RuleWriter, topic: Topic, parent: Criterion | None,
                   children: list[Criterion]) -> None:
    patterns = _topic_patterns(topic)
    for index, child in enumerate(children):
        patterns.other(f"k{index}", [{"t": "c"}, {"n": child.key}])
    writer.add(patterns, CombineAction(topic, parent) if parent else DecideAction(topic))


def _compile_topic(writer: _RuleWriter, topic: Topic) -> None:
    _compile_activation(writer, topic)
    for derivation in topic.derive:
        _compile_derivation(writer, derivation, topic)
    for criterion in topic.all_criteria():
        if criterion.mode == "test":
            _compile_leaf(writer, topic, criterion)
        else:
            _compile_group(writer, topic, criterion, criterion.children)
    _compile_group(writer, topic, None, topic.criteria)


def facts_needed(topics: list[Topic]) -> set[str]:
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


def derivations_needed(derivations: list[Derivation], needed: set[str]) -> list[Derivation]:
    """The shared derivations that conclude a needed fact, directly or through other derivations."""
    wanted = set(needed)
    chosen: list[Derivation] = []
    changed = True
    while changed:
        changed = False
        for derivation in derivations:
            if derivation in chosen:
                continue
            if any(name in wanted for name, _ in derivation.conclusions):
                chosen.append(derivation)
                wanted |= _derivation_inputs(derivation)
                changed = True
    return [d for d in derivations if d in chosen]


ACTIVATION_FACTS = frozenset({"item.service", "item.body_region", "request.date"})
TEMPLATE_FIELD = re.compile(r"\{([a-z][a-z0-9_.]*)\}")


def _template_facts(topics: list[Topic]) -> set[str]:
    """Facts the rationale and criterion templates of ``topics`` print, so they are projected too."""
    texts: list[str] = []
    for topic in topics:
        texts += [topic.rationale.overturned, topic.rationale.upheld, topic.rationale.not_documented]
        texts += [d.assumes or "" for d in topic.derive]
        for criterion in topic.all_criteria():
            if criterion.texts is not None:
                texts += [criterion.texts.met, criterion.texts.not_met, criterion.texts.not_documented]
    return {name for text in texts for name in TEMPLATE_FIELD.findall(text)}


def _compile_service(rule_base: RuleBase, service: str, region: str | None = None) -> CompiledRuleset:
    """One service's ruleset (for one region, or all): its topics, and the shared derivations they need."""
    writer = _RuleWriter()
    writer.definition["sentinel"] = {"all": [{"m": {"t": "sentinel"}}]}
    topics = [t for t in rule_base.topics if service in t.services
              and (region is None or t.body_regions is None or region in t.body_regions)]
    shared = derivations_needed(rule_base.derivations, facts_needed(topics) | _template_facts(topics))
    read = facts_needed(topics) | _template_facts(topics) | ACTIVATION_FACTS
    for derivation in shared:
        read |= {f for c in derivation.when for f in c.facts_read}
        read |= {f for _, e in derivation.conclusions for f in e.facts_read}
        read |= set(TEMPLATE_FIELD.findall(derivation.assumes or ""))
    base_facts = [name for name, spec in rule_base.facts.items() if spec.origin == "case" and name in read]
    for derivation in shared:
        _compile_derivation(writer, derivation, None)
    for topic in topics:
        _compile_topic(writer, topic)
    name = f"imr_{service}_{region}" if region else f"imr_{service}"
    return CompiledRuleset(name, writer.definition, writer.actions, topics, base_facts)


def compile_rule_base(rule_base: RuleBase) -> CompiledRuleBase:
    """The compiled rule base: id tables now, each service's ruleset when it is first needed."""
    services = frozenset(service for topic in rule_base.topics for service in topic.services)
    compiled = CompiledRuleBase(rule_base, services)
    for index, name in enumerate(rule_base.facts):
        compiled.fact_ids[name] = f"f{index}"
    for index, topic in enumerate(rule_base.topics):
        compiled.topic_ids[topic.id] = f"t{index}"
    keys = [c.key for topic in rule_base.topics for c in topic.all_criteria()]
    for index, key in enumerate(keys):
        compiled.criterion_ids[key] = f"c{index}"
    return compiled
