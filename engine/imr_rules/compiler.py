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

from dataclasses import dataclass, field
from typing import Any, Literal, Union

from .conditions import Condition, FactRef
from .rule_model import Criterion, Derivation, RuleBase, Topic

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
    """The rule base compiled for the engine: a ruleset per service, and the id tables."""

    rule_base: RuleBase
    rulesets: dict[str, CompiledRuleset]
    criterion_ids: dict[str, str] = field(default_factory=dict)
    topic_ids: dict[str, str] = field(default_factory=dict)
    fact_ids: dict[str, str] = field(default_factory=dict)


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

    def add(self, patterns: list[tuple[str, list[Pattern]]], action: Action) -> None:
        name = f"r{len(self.definition)}"
        self.definition[name] = {"all": [{pname: {"$and": tests}} for pname, tests in patterns]}
        self.actions[name] = action


def _condition_patterns(condition: Condition, op: str, prefix: str) -> list[tuple[str, list[Pattern]]]:
    """Patterns matching when ``condition`` (with operator ``op``) holds on documented facts."""
    if op == "not_documented":
        return [(f"{prefix}a", fact_pattern(condition.fact, documented=False))]
    if op == "documented":
        return [(f"{prefix}a", fact_pattern(condition.fact))]
    patterns: list[tuple[str, list[Pattern]]] = []
    join = None
    if isinstance(condition.operand, FactRef):
        join = f"{prefix}b"
        patterns.append((join, fact_pattern(condition.operand.name)))
    patterns.append((f"{prefix}a", fact_pattern(condition.fact) + value_tests(op, condition.operand, join)))
    return patterns


def _bindings(patterns: list[tuple[str, list[Pattern]]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pname, tests in patterns:
        for test in tests:
            if "n" in test and isinstance(test["n"], str) and {"t": "f"} in tests:
                found[pname] = test["n"]
    return found


def _topic_pattern(topic: Topic) -> tuple[str, list[Pattern]]:
    return ("tp", [{"t": "tp"}, {"n": topic.id}])


def _compile_derivation(writer: _RuleWriter, derivation: Derivation, topic: Topic | None) -> None:
    patterns: list[tuple[str, list[Pattern]]] = [_topic_pattern(topic)] if topic else []
    for index, condition in enumerate(derivation.when):
        patterns.extend(_condition_patterns(condition, condition.op, f"w{index}"))
    bound = set(_bindings(patterns).values())
    for _name, expression in derivation.conclusions:
        for index, fact in enumerate(expression.facts_read):
            if fact not in bound:
                patterns.append((f"x{len(patterns)}{index}", fact_pattern(fact)))
                bound.add(fact)
    writer.add(patterns, DeriveAction(derivation, _bindings(patterns)))


def _compile_activation(writer: _RuleWriter, topic: Topic) -> None:
    guideline = topic.guideline
    date_tests: list[Pattern] = [{"$gte": {"v": int(guideline.effective_from.strftime("%Y%m%d"))}}]
    if guideline.effective_to is not None:
        date_tests.append({"$lte": {"v": int(guideline.effective_to.strftime("%Y%m%d"))}})
    patterns: list[tuple[str, list[Pattern]]] = [
        ("sv", fact_pattern("item.service") + value_tests("in", topic.services, None)),
        ("dt", fact_pattern("request.date") + date_tests),
    ]
    if topic.body_regions:
        patterns.append(("rg", fact_pattern("item.body_region") + value_tests("in", topic.body_regions, None)))
    for index, condition in enumerate(topic.when):
        patterns.extend(_condition_patterns(condition, condition.op, f"w{index}"))
    writer.add(patterns, ActivateAction(topic, _bindings(patterns)))


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
        patterns = [_topic_pattern(topic), *_condition_patterns(condition, test_op, "q")]
        writer.add(patterns, CriterionAction(topic, criterion, state, _bindings(patterns)))
    if op != "not_documented":
        for index, fact in enumerate(condition.facts_read):
            patterns = [_topic_pattern(topic), (f"n{index}", fact_pattern(fact, documented=False))]
            writer.add(patterns, CriterionAction(topic, criterion, "not_documented", _bindings(patterns)))


def _compile_group(writer: _RuleWriter, topic: Topic, parent: Criterion | None,
                   children: list[Criterion]) -> None:
    patterns = [_topic_pattern(topic)] + [(f"k{i}", [{"t": "c"}, {"n": child.key}]) for i, child in
                                          enumerate(children)]
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


def compile_rule_base(rule_base: RuleBase) -> CompiledRuleBase:
    """Compile every topic into the ruleset of each service it applies to, with all shared derivations."""
    services = sorted({service for topic in rule_base.topics for service in topic.services})
    rulesets: dict[str, CompiledRuleset] = {}
    base_facts = [name for name, spec in rule_base.facts.items() if spec.origin == "case"]
    for service in services:
        writer = _RuleWriter()
        writer.definition["sentinel"] = {"all": [{"m": {"t": "sentinel"}}]}
        topics = [t for t in rule_base.topics if service in t.services]
        for derivation in derivations_needed(rule_base.derivations, facts_needed(topics)):
            _compile_derivation(writer, derivation, None)
        for topic in topics:
            _compile_topic(writer, topic)
        rulesets[service] = CompiledRuleset(f"imr_{service}", writer.definition, writer.actions, topics,
                                            base_facts)
    compiled = CompiledRuleBase(rule_base, rulesets)
    for index, name in enumerate(rule_base.facts):
        compiled.fact_ids[name] = f"f{index}"
    for index, topic in enumerate(rule_base.topics):
        compiled.topic_ids[topic.id] = f"t{index}"
    keys = [c.key for topic in rule_base.topics for c in topic.all_criteria()]
    for index, key in enumerate(keys):
        compiled.criterion_ids[key] = f"c{index}"
    return compiled
