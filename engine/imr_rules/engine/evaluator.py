"""Evaluate stage: run each requested item of a case through its service's ruleset.

The actions the compiled rules run are defined here, generically: conclude a derived fact, activate a
topic, record a criterion state, combine states with three-valued logic. Nothing here knows a topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imr_rules import __version__
from imr_rules.cases.facts import FactValue, project_item
from imr_rules.cases.model import Case, RequestedItem
from imr_rules.engine.durable_adapter import AssertFact, DurableEngine, Message
from imr_rules.engine.explain import build_item_result, not_addressed_result, render_template
from imr_rules.engine.results import CaseResult, FactRead, ItemResult, TraceStep
from imr_rules.rulebase.compiler import (
    ActivateAction,
    CombineAction,
    CompiledRuleBase,
    CompiledRuleset,
    CriterionAction,
    CriterionState,
    DecideAction,
    DeriveAction,
)
from imr_rules.rulebase.model import Criterion, Topic


def combine(mode: str, states: list[CriterionState]) -> CriterionState:
    """Three-valued (Kleene) combination: ``all`` needs every part met, ``any`` needs one."""
    if mode == "any":
        if "met" in states:
            return "met"
        return "not_documented" if "not_documented" in states else "not_met"
    if "not_met" in states:
        return "not_met"
    return "not_documented" if "not_documented" in states else "met"


@dataclass
class ItemSession:
    """Everything one item's evaluation concluded, in the order it was concluded."""

    item: RequestedItem
    facts: dict[str, FactRead] = field(default_factory=dict)
    active: list[Topic] = field(default_factory=list)
    states: dict[str, tuple[CriterionState, list[FactRead], str | None]] = field(default_factory=dict)
    outcomes: dict[str, CriterionState] = field(default_factory=dict)
    trace: list[TraceStep] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)

    def value(self, name: str) -> Any:
        """The value of a fact, or None when not documented or not derived."""
        fact = self.facts.get(name)
        return fact.value if fact and fact.documented else None

    def step(self, rule: str, kind: str, concluded: str, reads: list[FactRead]) -> None:
        """Append a trace step."""
        self.trace.append(TraceStep(len(self.trace) + 1, rule, kind, concluded, reads))


class Evaluator:
    """Holds the compiled rule base registered in one durable engine; evaluates cases one by one."""

    def __init__(self, compiled: CompiledRuleBase) -> None:
        self.compiled = compiled
        self.engine = DurableEngine()
        self._registered: set[str] = set()

    @property
    def rule_base_version(self) -> str:
        """The content hash of the rule base."""
        return self.compiled.rule_base.version

    def evaluate(self, case: Case) -> CaseResult:
        """Decide every requested item of ``case``."""
        decisions: dict[str, str] = {}
        results: dict[str, ItemResult] = {}
        for item in _procedures_first(case.requested_items):
            results[item.id] = self.evaluate_item(case, item, decisions)
            decisions[item.id] = results[item.id].decision
        items = [results[item.id] for item in case.requested_items]
        return CaseResult(case.case_id, case.request_date.isoformat(), self.rule_base_version, __version__, items)

    def evaluate_item(self, case: Case, item: RequestedItem, decisions: dict[str, str] | None = None,
                      overrides: dict[str, Any] | None = None) -> ItemResult:
        """Decide one requested item; ``decisions`` holds the items decided before it in this case.

        ``overrides`` replaces base facts (``None``: not documented): what-if evaluation of changed facts.
        """
        ruleset = self._ruleset(item.service, item.body_region)
        if ruleset is None:
            return not_addressed_result(item, self.compiled.rule_base, case.item_request_date(item),
                                        ItemSession(item))
        session = ItemSession(item)
        facts = self._base_facts(case, item, ruleset, session, decisions or {}, overrides or {})
        runner = _ActionRunner(self.compiled, ruleset, session)
        self.engine.run(ruleset.name, facts, runner.on_action, runner.close_unresolved)
        if not session.active:
            return not_addressed_result(item, self.compiled.rule_base, case.item_request_date(item), session)
        return build_item_result(self.compiled.rule_base, session)

    def _ruleset(self, service: str, region: str) -> CompiledRuleset | None:
        """The ruleset for a service and region, registered in the engine on first use."""
        ruleset = self.compiled.ruleset(service, region)
        if ruleset is not None and ruleset.name not in self._registered:
            self.engine.register(ruleset.name, ruleset.definition)
            self._registered.add(ruleset.name)
        return ruleset

    def _base_facts(self, case: Case, item: RequestedItem, ruleset: CompiledRuleset,
                    session: ItemSession, decisions: dict[str, str], overrides: dict[str, Any]) -> list[Message]:
        messages = []
        for fact in project_item(case, item, ruleset.base_facts, decisions, self.compiled.rule_base.vocabulary):
            if fact.name in overrides:
                fact = FactValue(fact.name, overrides[fact.name], "what-if change")
            session.facts[fact.name] = FactRead(fact.name, fact.value if fact.documented else None,
                                                fact.documented, fact.source)
            message: Message = {"id": self.compiled.fact_ids[fact.name], "t": "f", "n": fact.name,
                                "s": "d" if fact.documented else "nd"}
            if fact.documented:
                message["v"] = fact.value
            messages.append(message)
        return messages


def _procedures_first(items: list[RequestedItem]) -> list[RequestedItem]:
    """Items in an order where a procedure is decided before the items that accompany it."""
    ancillary = [item for item in items if item.ancillary_item is not None]
    return [item for item in items if item.ancillary_item is None] + ancillary


class _ActionRunner:
    """Runs the action of each fired rule against one item's session."""

    def __init__(self, compiled: CompiledRuleBase, ruleset: CompiledRuleset, session: ItemSession) -> None:
        self.compiled = compiled
        self.ruleset = ruleset
        self.session = session
        self._assert: AssertFact | None = None

    def on_action(self, rule_name: str, message: Message, assert_fact: AssertFact) -> None:
        """Dispatch one fired rule to its action."""
        self._assert = assert_fact
        if rule_name == "sentinel":
            return
        action = self.ruleset.actions[rule_name]
        if isinstance(action, DeriveAction):
            self._derive(action, message)
        elif isinstance(action, ActivateAction):
            self._activate(action, message)
        elif isinstance(action, CriterionAction):
            reads = self._reads(action.bindings, message)
            self._record(action.topic, action.criterion, action.state, reads, None)
        elif isinstance(action, CombineAction):
            self._combine(action.topic, action.criterion)
        elif isinstance(action, DecideAction):
            self._decide(action.topic)

    def _reads(self, bindings: dict[str, str], message: Message) -> list[FactRead]:
        reads = []
        for pattern_name, fact_name in bindings.items():
            if pattern_name in message:
                known = self.session.facts.get(fact_name)
                if known is not None:
                    reads.append(known)
        return reads

    def _derive(self, action: DeriveAction, message: Message) -> None:
        derivation = action.derivation
        values = {name: message[p]["v"] for p, name in action.bindings.items() if p in message and "v" in message[p]}
        reads = self._reads(action.bindings, message)
        concluded = []
        for name, expression in derivation.conclusions:
            value = expression.evaluate(values)
            existing = self.session.facts.get(name)
            if existing is not None:
                if existing.value != value:
                    self.session.notes.append(
                        f"rule {derivation.id} concluded {name} = {value}, but {existing.source} had "
                        f"concluded {existing.value}; the first conclusion was kept")
                continue
            self.session.facts[name] = FactRead(name, value, True, f"rule {derivation.id}")
            self._emit({"id": self.compiled.fact_ids[name], "t": "f", "n": name, "s": "d", "v": value})
            concluded.append(f"{name} = {value}")
        if derivation.assumes and concluded:
            self.session.assumptions.append(render_template(derivation.assumes, self.session))
        self.session.step(derivation.id, "derive", "; ".join(concluded) or "(already concluded)", reads)

    def _activate(self, action: ActivateAction, message: Message) -> None:
        topic = action.topic
        if topic in self.session.active:
            return
        self.session.active.append(topic)
        self._emit({"id": self.compiled.topic_ids[topic.id], "t": "tp", "n": topic.id})
        self.session.step(topic.id, "applies", f"topic {topic.topic} under {topic.guideline.id}",
                          self._reads(action.bindings, message))

    def _record(self, topic: Topic, criterion: Criterion, state: CriterionState, reads: list[FactRead],
                note: str | None) -> None:
        if criterion.key in self.session.states:
            return
        self.session.states[criterion.key] = (state, reads, note)
        self._emit({"id": self.compiled.criterion_ids[criterion.key], "t": "c", "n": criterion.key, "v": state})
        self.session.step(criterion.key, "criterion", state, reads)

    def _combine(self, topic: Topic, criterion: Criterion) -> None:
        states = [self.session.states[child.key][0] for child in criterion.children]
        self._record(topic, criterion, combine(criterion.mode, states), [], None)

    def _decide(self, topic: Topic) -> None:
        if topic.id in self.session.outcomes:
            return
        outcome = combine("all", [self.session.states[c.key][0] for c in topic.criteria]) if topic.recommended \
            else "not_met"
        self.session.outcomes[topic.id] = outcome
        self.session.step(topic.id, "decision", "criteria " + outcome.replace("_", " "), [])

    def _emit(self, fact: Message) -> None:
        assert self._assert is not None
        self._assert(fact)

    def close_unresolved(self) -> list[Message]:
        """At quiescence: a criterion whose facts no rule concluded is not documented (closed world)."""
        facts: list[Message] = []
        for topic in self.session.active:
            for leaf in (c for criterion in topic.criteria for c in criterion.leaves()):
                if leaf.key in self.session.states or leaf.key in self.session.closed:
                    continue
                assert leaf.test is not None
                missing = [f for f in leaf.test.facts_read if f not in self.session.facts]
                note = "not established: " + ", ".join(missing) if missing else None
                self.session.closed.add(leaf.key)
                self.session.states[leaf.key] = ("not_documented", [], note)
                self.session.step(leaf.key, "criterion", "not_documented (" + (note or "no rule fired") + ")", [])
                facts.append({"id": self.compiled.criterion_ids[leaf.key], "t": "c", "n": leaf.key,
                              "v": "not_documented"})
        return facts
