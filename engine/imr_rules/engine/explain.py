"""Explain stage: rationale text from the rule files' templates, criteria states, missing documentation.

No sentence of a rationale is written here: every sentence is a template from a rule file, filled with
the item's facts. This module only chooses which templates apply and in what order.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from imr_rules.cases.model import RequestedItem
from imr_rules.engine.results import Citation, CriterionResult, ItemResult, Outcome
from imr_rules.rulebase.model import Criterion, RuleBase, Topic

if TYPE_CHECKING:
    from imr_rules.engine.evaluator import ItemSession

_FIELD = re.compile(r"\{([^{}]+)\}")


def format_value(value: Any) -> str:
    """A fact value as a sentence shows it."""
    if value is None:
        return "not documented"
    if isinstance(value, list):
        return ", ".join(str(v).replace("_", " ") for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ")


def render_template(template: str, session: ItemSession, topic: Topic | None = None,
                    findings: str = "") -> str:
    """Fill ``{fact.name}`` (and citation, guideline, item.description, findings) from the session."""
    def value_of(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "findings":
            return findings
        if name == "item.description":
            return session.item.description
        if name == "citation" and topic is not None:
            return topic.citation_text()
        if name == "guideline" and topic is not None:
            return topic.guideline.label
        return format_value(session.value(name))
    return " ".join(_FIELD.sub(value_of, template).split())


def _sentences(criterion: Criterion, session: ItemSession, state: str, topic: Topic) -> list[str]:
    """The sentences that explain ``criterion`` being in ``state``: its own text, else its children's."""
    if criterion.texts is not None:
        return [render_template(getattr(criterion.texts, state), session, topic)]
    wanted = state
    children = [c for c in criterion.children if session.states.get(c.key, ("",))[0] == wanted]
    return [s for child in children for s in _sentences(child, session, wanted, topic)]


def _criteria_results(topic: Topic, session: ItemSession) -> list[CriterionResult]:
    results = []

    def visit(criterion: Criterion, depth: int) -> None:
        state, reads, note = session.states.get(criterion.key, ("not_documented", [], "not evaluated"))
        results.append(CriterionResult(criterion.key, criterion.label, state, depth, reads, note))
        for child in criterion.children:
            visit(child, depth + 1)

    for criterion in topic.criteria:
        visit(criterion, 0)
    return results


def _asks_for(fact: str, rule_base: RuleBase, session: ItemSession, seen: set[str]) -> list[str]:
    """Requests for information that would let ``fact`` be read or derived."""
    if fact in seen:
        return []
    seen.add(fact)
    spec = rule_base.facts[fact]
    known = session.facts.get(fact)
    if spec.origin == "case":
        if known is not None and known.documented:
            return []
        return [spec.ask or spec.description]
    if known is not None:
        return []
    asks: list[str] = []
    for derivation in rule_base.derivations_of(fact):
        inputs = [c.fact for c in derivation.when] + [f for c in derivation.when for f in c.facts_read[1:]]
        inputs += [f for name, e in derivation.conclusions if name == fact for f in e.facts_read]
        for name in inputs:
            asks.extend(_asks_for(name, rule_base, session, seen))
    return asks or [spec.ask or spec.description]


def _open_leaves(criteria: list[Criterion], session: ItemSession) -> list[Criterion]:
    """Leaves under criteria that are not met; a met branch (one met alternative of an any_of) needs nothing."""
    found: list[Criterion] = []
    for criterion in criteria:
        if session.states.get(criterion.key, ("not_documented",))[0] == "met":
            continue
        found.extend([criterion] if criterion.mode == "test" else _open_leaves(criterion.children, session))
    return found


def missing_documentation(topic: Topic, rule_base: RuleBase, session: ItemSession) -> list[str]:
    """Documentation to request from the treating physician: what the not-documented criteria lacked.

    Only asked for an item that is not Overturned: an Overturned item lacks nothing its decision needs.
    """
    asks: list[str] = []
    seen: set[str] = set()
    for leaf in _open_leaves(topic.criteria, session):
        if session.states.get(leaf.key, ("not_documented",))[0] == "not_documented":
            assert leaf.test is not None
            for fact in leaf.test.facts_read:
                for ask in _asks_for(fact, rule_base, session, seen):
                    if ask not in asks:
                        asks.append(ask)
    return asks


def choose_topic(session: ItemSession) -> Topic:
    """The deciding topic: the active one with the lowest precedence number (then by id)."""
    return sorted(session.active, key=lambda t: (t.precedence, t.id))[0]


def citation_of(topic: Topic) -> Citation:
    """The citation record of a topic."""
    guideline = topic.guideline
    return Citation(guideline.id, guideline.label, guideline.edition, guideline.source, topic.citation.section,
                    topic.citation.pages, topic.citation_text())


def build_item_result(rule_base: RuleBase, session: ItemSession) -> ItemResult:
    """The item's result from its session: decision, citation, rationale, criteria, missing documentation."""
    topic = choose_topic(session)
    outcome = session.outcomes.get(topic.id, "not_documented")
    decision: Outcome = "Overturned" if outcome == "met" else "Upheld"
    sentences = [s for c in topic.criteria if session.states.get(c.key, ("",))[0] == outcome
                 for s in _sentences(c, session, outcome, topic)]
    template = {"met": topic.rationale.overturned, "not_met": topic.rationale.upheld,
                "not_documented": topic.rationale.not_documented}[outcome]
    rationale = render_template(template, session, topic, " ".join(sentences))
    notes = list(session.notes)
    if topic.guideline.note:
        notes.append(topic.guideline.note)
    for other in session.active:
        if other is not topic:
            notes.append(f"rule {other.id} also applies; {topic.id} decides (precedence {topic.precedence})")
    return ItemResult(
        item_id=session.item.id, description=session.item.description, service=session.item.service,
        body_region=session.item.body_region, decision=decision, basis=outcome, rule=topic.id,
        citation=citation_of(topic), rationale=rationale, criteria=_criteria_results(topic, session),
        missing_documentation=[] if decision == "Overturned" else missing_documentation(topic, rule_base, session),
        assumptions=list(session.assumptions), notes=notes, trace=list(session.trace))


def not_addressed_result(item: RequestedItem, rule_base: RuleBase, request_date: dt.date,
                         session: ItemSession) -> ItemResult:
    """The result for an item no rule decides, saying why (service, region, period, or conditions)."""
    candidates = [t for t in rule_base.topics if item.service in t.services
                  and (t.body_regions is None or item.body_region in t.body_regions)]
    if not candidates:
        reason = (f"No rule in the rule base addresses {item.service.replace('_', ' ')} for the "
                  f"{item.body_region.replace('_', ' ')} region.")
    elif not any(t.guideline.in_force(request_date) for t in candidates):
        editions = ", ".join(sorted({f"{t.guideline.id} ({t.guideline.effective_from} to "
                                     f"{t.guideline.effective_to or 'open'})" for t in candidates}))
        reason = (f"No encoded rule for this request is in force on {request_date}; "
                  f"the rules for it cover: {editions}.")
    else:
        unmet = "; ".join(f"{t.id}: " + ", ".join(c.text for c in t.when) for t in candidates
                          if t.guideline.in_force(request_date) and t.when)
        reason = "The rules for this request did not apply: their conditions were not established" + (
            f" ({unmet})." if unmet else ".")
    return ItemResult(
        item_id=item.id, description=item.description, service=item.service,
        body_region=item.body_region, decision="Not addressed", basis=None, rule=None, citation=None,
        rationale=reason, assumptions=list(session.assumptions), notes=list(session.notes),
        trace=list(session.trace))
