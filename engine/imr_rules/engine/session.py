"""Item sessions: assert one requested item's facts, run the rules, and return a frozen evaluation record.

The actions the compiled rules run are defined here, generically: conclude a derived fact, activate a
topic, record a criterion state, combine states with three-valued logic, take a topic's outcome. Once the
engine is quiet, the session takes the decision (the deciding topic and Upheld / Overturned) and freezes
everything into an ``ItemEvaluation``; explanation and reports only render that record. Nothing here knows
a topic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from imr_rules.cases.facts import FactValue
from imr_rules.cases.model import RequestedItem
from imr_rules.engine.results import NEEDS_LICENSED, FactRead, Outcome, TraceStep
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
from imr_rules.rulebase.templates import fill, format_value

Message = dict[str, Any]
AssertFact = Callable[[Message], None]
ActionHandler = Callable[[str, Message, AssertFact], None]
QuiescenceHandler = Callable[[], list[Message]]
CriterionRecord = tuple[CriterionState, tuple[FactRead, ...], str | None]


class RuleEngine(Protocol):
    """What a session needs of a rule engine: registered rulesets, and one run per item."""

    def register(self, name: str, definition: dict[str, Any] | str) -> None:
        """Make a compiled ruleset (JSON definition) available under ``name``."""

    def run(self, name: str, facts: list[Message], on_action: ActionHandler,
            on_quiescence: QuiescenceHandler | None = None) -> None:
        """Assert ``facts``, run every activation to quiescence (asking ``on_quiescence`` for more facts)."""


def combine(mode: str, states: list[CriterionState]) -> CriterionState:
    """Three-valued (Kleene) combination: ``all`` needs every part met, ``any`` needs one."""
    if mode == "any":
        if "met" in states:
            return "met"
        return "not_documented" if "not_documented" in states else "not_met"
    if "not_met" in states:
        return "not_met"
    return "not_documented" if "not_documented" in states else "met"


@dataclass(frozen=True)
class NotAddressed:
    """Why no rule decided an item: the facts an explanation needs to say so.

    ``kind``: ``no_rule`` (no topic for the service and region in any period), ``not_in_force`` (none of
    them in force on the request date, or none in force that applied) or ``conditions`` (topics in force,
    their conditions did not hold). ``in_force`` are the topics in force on the date that did not apply.
    """

    kind: Literal["no_rule", "not_in_force", "conditions"]
    service: str
    region: str
    request_date: dt.date
    candidates: tuple[Topic, ...]
    in_force: tuple[Topic, ...]


@dataclass(frozen=True)
class ItemEvaluation:
    """The frozen record of one item's evaluation: what was concluded, the decision, and why."""

    item: RequestedItem
    facts: Mapping[str, FactRead]
    active: tuple[Topic, ...]
    states: Mapping[str, CriterionRecord]
    outcomes: Mapping[str, CriterionState]
    topic: Topic | None
    basis: CriterionState | None
    decision: Outcome
    trace: tuple[TraceStep, ...]
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]
    not_addressed: NotAddressed | None = None

    def value(self, name: str) -> Any:
        """The value of a fact, or None when not documented or not derived."""
        fact = self.facts.get(name)
        return fact.value if fact and fact.documented else None

    def state(self, key: str) -> CriterionState | None:
        """The state of a criterion, or None when it was never resolved."""
        record = self.states.get(key)
        return record[0] if record else None


def choose_topic(active: tuple[Topic, ...] | list[Topic]) -> Topic:
    """The deciding topic: the active one with the lowest precedence number (then by id)."""
    return sorted(active, key=lambda t: (t.precedence, t.id))[0]


@dataclass
class ItemSession:
    """The working memory of one item's run, in the order things were concluded; frozen when done."""

    item: RequestedItem
    facts: dict[str, FactRead] = field(default_factory=dict)
    active: list[Topic] = field(default_factory=list)
    states: dict[str, CriterionRecord] = field(default_factory=dict)
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

    def freeze(self, not_addressed: NotAddressed | None = None) -> ItemEvaluation:
        """The evaluation record, with the decision taken: the deciding topic's outcome, Overturned when met."""
        topic = choose_topic(self.active) if self.active and not_addressed is None else None
        basis: CriterionState | None = None
        decision: Outcome = "Not addressed"
        if topic is not None and topic.needs_licensed is not None:
            decision = NEEDS_LICENSED  # no basis: nothing was decided on criteria
        elif topic is not None:
            basis = self.outcomes.get(topic.id, "not_documented")
            decision = "Overturned" if basis == "met" else "Upheld"
        return ItemEvaluation(
            item=self.item, facts=MappingProxyType(dict(self.facts)), active=tuple(self.active),
            states=MappingProxyType(dict(self.states)), outcomes=MappingProxyType(dict(self.outcomes)),
            topic=topic, basis=basis, decision=decision, trace=tuple(self.trace),
            assumptions=tuple(self.assumptions), notes=tuple(self.notes), not_addressed=not_addressed)


def session_facts(compiled: CompiledRuleBase, session: ItemSession, facts: list[FactValue]) -> list[Message]:
    """The base facts as session facts (recorded in ``session`` as read), ready to assert in one batch."""
    messages = []
    for fact in facts:
        session.facts[fact.name] = FactRead(fact.name, fact.value if fact.documented else None,
                                            fact.documented, fact.source)
        message: Message = {"id": compiled.fact_ids[fact.name], "t": "f", "n": fact.name,
                            "s": "d" if fact.documented else "nd"}
        if fact.documented:
            message["v"] = fact.value
        messages.append(message)
    return messages


def render_assumption(template: str, session: ItemSession) -> str:
    """An assumption template filled with the session's facts."""
    return fill(template, lambda name: format_value(session.value(name)))


class ActionRunner:
    """Runs the action of each fired rule against one item's session."""

    def __init__(self, compiled: CompiledRuleBase, ruleset: CompiledRuleset, session: ItemSession) -> None:
        self.compiled = compiled
        self.ruleset = ruleset
        self.session = session
        self._assert: AssertFact | None = None

    def run(self, engine: RuleEngine, facts: list[Message]) -> None:
        """Assert the base facts in ``engine`` and run the item's session to quiescence."""
        engine.run(self.ruleset.name, facts, self.on_action, self.close_unresolved)

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
            self._record(action.criterion, action.state, self._reads(action.bindings, message), None)
        elif isinstance(action, CombineAction):
            self._combine(action.criterion)
        elif isinstance(action, DecideAction):
            self._decide(action.topic)

    def _reads(self, bindings: Mapping[str, str], message: Message) -> list[FactRead]:
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
            self.session.assumptions.append(render_assumption(derivation.assumes, self.session))
        self.session.step(derivation.id, "derive", "; ".join(concluded) or "(already concluded)", reads)

    def _activate(self, action: ActivateAction, message: Message) -> None:
        topic = action.topic
        if topic in self.session.active:
            return
        self.session.active.append(topic)
        self._emit({"id": self.compiled.topic_ids[topic.id], "t": "tp", "n": topic.id})
        self.session.step(topic.id, "applies", f"topic {topic.topic} under {topic.guideline.id}",
                          self._reads(action.bindings, message))

    def _record(self, criterion: Criterion, state: CriterionState, reads: list[FactRead], note: str | None) -> None:
        if criterion.key in self.session.states:
            return
        self.session.states[criterion.key] = (state, tuple(reads), note)
        self._emit({"id": self.compiled.criterion_ids[criterion.key], "t": "c", "n": criterion.key, "v": state})
        self.session.step(criterion.key, "criterion", state, reads)

    def _combine(self, criterion: Criterion) -> None:
        states = [self.session.states[child.key][0] for child in criterion.children]
        self._record(criterion, combine(criterion.mode, states), [], None)

    def _decide(self, topic: Topic) -> None:
        if topic.id in self.session.outcomes:
            return
        outcome = combine("all", [self.session.states[c.key][0] for c in topic.criteria]) if topic.recommended \
            else "not_met"
        self.session.outcomes[topic.id] = outcome
        self.session.step(topic.id, "decision", "needs the licensed guideline text" if topic.needs_licensed
                          else "criteria " + outcome.replace("_", " "), [])

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
                self.session.states[leaf.key] = ("not_documented", (), note)
                self.session.step(leaf.key, "criterion", "not_documented (" + (note or "no rule fired") + ")", [])
                facts.append({"id": self.compiled.criterion_ids[leaf.key], "t": "c", "n": leaf.key,
                              "v": "not_documented"})
        return facts


def not_addressed(compiled: CompiledRuleBase, item: RequestedItem, request_date: dt.date) -> NotAddressed:
    """Why nothing decided ``item``: no topic for it, none in force on the date, or their conditions failed."""
    service, region = item.service, item.body_region
    candidates = tuple(compiled.candidates(service, region))
    in_force = tuple(t for t in candidates if t.guideline.in_force(request_date))
    if not candidates:
        kind: Literal["no_rule", "not_in_force", "conditions"] = "no_rule"
    elif len(in_force) < len(candidates):
        kind = "not_in_force"  # some rules for it belong to other periods: say which edition was looked for
    else:
        kind = "conditions"
    return NotAddressed(kind, service, region, request_date, candidates, in_force)
