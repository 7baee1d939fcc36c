"""Explain stage: render an item's evaluation record as its result: rationale, criteria, missing documentation.

No sentence of a rationale is written here: every sentence is a template from a rule file, filled with
the item's facts. The decision was taken by the evaluation (``ItemEvaluation``); this module only chooses
which templates show it and in what order.
"""

from __future__ import annotations

from collections.abc import Sequence

from imr_rules.engine.results import Citation, CriterionResult, ItemResult, LicensedNeed, NotAddressedReason
from imr_rules.engine.session import ItemEvaluation, NotAddressed
from imr_rules.rulebase.conditions import Condition
from imr_rules.rulebase.model import Criterion, RuleBase, Topic
from imr_rules.rulebase.templates import fill, format_value

__all__ = ["citation_of", "explain_item", "format_value", "missing_documentation", "render_template"]


def render_template(template: str, evaluation: ItemEvaluation, topic: Topic | None = None,
                    findings: str = "") -> str:
    """Fill ``{fact.name}`` (and citation, guideline, item.description, findings) from the evaluation."""
    def value_of(name: str) -> str:
        if name == "findings":
            return findings
        if name == "item.description":
            return evaluation.item.description
        if name == "citation" and topic is not None:
            return topic.citation_text()
        if name == "guideline" and topic is not None:
            return topic.guideline.label
        return format_value(evaluation.value(name))
    return fill(template, value_of)


def _sentences(criterion: Criterion, evaluation: ItemEvaluation, state: str, topic: Topic) -> list[str]:
    """The sentences that explain ``criterion`` being in ``state``: its own text, else its children's."""
    if criterion.texts is not None:
        return [render_template(getattr(criterion.texts, state), evaluation, topic)]
    wanted = state
    children = [c for c in criterion.children if evaluation.state(c.key) == wanted]
    return [s for child in children for s in _sentences(child, evaluation, wanted, topic)]


def _criteria_results(topic: Topic, evaluation: ItemEvaluation) -> list[CriterionResult]:
    results = []

    def visit(criterion: Criterion, depth: int) -> None:
        state, reads, note = evaluation.states.get(criterion.key, ("not_documented", (), "not evaluated"))
        results.append(CriterionResult(criterion.key, criterion.label, state, depth, list(reads), note))
        for child in criterion.children:
            visit(child, depth + 1)

    for criterion in topic.criteria:
        visit(criterion, 0)
    return results


def _asks_for(fact: str, rule_base: RuleBase, evaluation: ItemEvaluation, seen: set[str]) -> list[str]:
    """Requests for information that would let ``fact`` be read or derived."""
    if fact in seen:
        return []
    seen.add(fact)
    spec = rule_base.facts[fact]
    known = evaluation.facts.get(fact)
    if spec.origin == "case":
        if known is not None and known.documented:
            return []
        return [spec.ask or spec.description]
    if known is not None:
        return []
    asks: list[str] = []
    asked_elsewhere = False  # an input already asked for through another fact: nothing more to ask here
    for derivation in rule_base.derivations_of(fact):
        if _cannot_apply(derivation.when, evaluation):
            continue
        inputs = [c.fact for c in derivation.when] + [f for c in derivation.when for f in c.facts_read[1:]]
        inputs += [f for name, e in derivation.conclusions if name == fact for f in e.facts_read]
        for name in inputs:
            known_input = evaluation.facts.get(name)
            asked_elsewhere |= name in seen and (known_input is None or not known_input.documented)
            asks.extend(_asks_for(name, rule_base, evaluation, seen))
    return asks or ([] if asked_elsewhere else [spec.ask or spec.description])


def _cannot_apply(conditions: Sequence[Condition], evaluation: ItemEvaluation) -> bool:
    """True when a list test (``in`` / ``not in``) on a documented fact fails: e.g. a derivation kept for
    other body regions, whose inputs this item must not be asked for."""
    for condition in conditions:
        if condition.op not in ("in", "not in") or not isinstance(condition.operand, tuple):
            continue
        value = evaluation.value(condition.fact)
        if value is not None and (str(value) in condition.operand) != (condition.op == "in"):
            return True
    return False


def _open_leaves(criteria: list[Criterion], evaluation: ItemEvaluation) -> list[Criterion]:
    """Leaves under criteria that are not met; a met branch (one met alternative of an any_of) needs nothing."""
    found: list[Criterion] = []
    for criterion in criteria:
        if evaluation.state(criterion.key) == "met":
            continue
        found.extend([criterion] if criterion.mode == "test" else _open_leaves(criterion.children, evaluation))
    return found


def missing_documentation(topic: Topic, rule_base: RuleBase, evaluation: ItemEvaluation) -> list[str]:
    """Documentation to request from the treating physician: what the not-documented criteria lacked.

    Only asked for an item that is not Overturned: an Overturned item lacks nothing its decision needs.
    """
    asks: list[str] = []
    seen: set[str] = set()
    for leaf in _open_leaves(topic.criteria, evaluation):
        if (evaluation.state(leaf.key) or "not_documented") == "not_documented":
            assert leaf.test is not None
            for fact in leaf.test.facts_read:
                for ask in _asks_for(fact, rule_base, evaluation, seen):
                    if ask not in asks:
                        asks.append(ask)
    return asks


def citation_of(topic: Topic) -> Citation:
    """The citation record of a topic."""
    guideline = topic.guideline
    return Citation(guideline.id, guideline.label, guideline.edition, guideline.source, topic.citation.section,
                    topic.citation.pages, topic.citation_text())


def explain_item(rule_base: RuleBase, evaluation: ItemEvaluation) -> ItemResult:
    """The item's result from its evaluation record: citation, rationale, criteria, missing documentation."""
    topic = evaluation.topic
    if topic is not None and topic.needs_licensed is not None:
        return _needs_licensed_result(topic, evaluation)
    if topic is None or evaluation.basis is None:
        return _not_addressed_result(evaluation)
    outcome = evaluation.basis
    sentences = [s for c in topic.criteria if evaluation.state(c.key) == outcome
                 for s in _sentences(c, evaluation, outcome, topic)]
    template = {"met": topic.rationale.overturned, "not_met": topic.rationale.upheld,
                "not_documented": topic.rationale.not_documented}[outcome]
    rationale = render_template(template, evaluation, topic, " ".join(sentences))
    notes = _notes(topic, evaluation)
    item = evaluation.item
    return ItemResult(
        item_id=item.id, description=item.description, service=item.service,
        body_region=item.body_region, decision=evaluation.decision, basis=outcome, rule=topic.id,
        citation=citation_of(topic), rationale=rationale, criteria=_criteria_results(topic, evaluation),
        missing_documentation=[] if evaluation.decision == "Overturned"
        else missing_documentation(topic, rule_base, evaluation),
        assumptions=list(evaluation.assumptions), notes=notes, trace=list(evaluation.trace))


def _notes(topic: Topic, evaluation: ItemEvaluation) -> list[str]:
    notes = list(evaluation.notes)
    if topic.guideline.note:
        notes.append(topic.guideline.note)
    for other in evaluation.active:
        if other is not topic:
            notes.append(f"rule {other.id} also applies; {topic.id} decides (precedence {topic.precedence})")
    return notes


def _needs_licensed_result(topic: Topic, evaluation: ItemEvaluation) -> ItemResult:
    """An item only the licensed guideline text could decide: the topic, the edition in force, what is missing."""
    assert topic.needs_licensed is not None
    item = evaluation.item
    need = LicensedNeed(topic.topic, topic.guideline.id, topic.guideline.edition, topic.citation.section,
                        topic.needs_licensed.missing.strip(), topic.needs_licensed.reference)
    return ItemResult(
        item_id=item.id, description=item.description, service=item.service, body_region=item.body_region,
        decision=evaluation.decision, basis=None, rule=topic.id, citation=citation_of(topic),
        rationale=render_template(topic.rationale.needs_licensed, evaluation, topic),
        assumptions=list(evaluation.assumptions), notes=_notes(topic, evaluation), trace=list(evaluation.trace),
        needs_licensed=need)


def _words(value: str) -> str:
    return value.replace("_", " ")


def _periods(topics: tuple[Topic, ...]) -> str:
    return ", ".join(sorted({f"{t.guideline.id} ({t.guideline.effective_from} to "
                             f"{t.guideline.effective_to or 'open'})" for t in topics}))


def _conditions(topics: tuple[Topic, ...]) -> str:
    return "; ".join(f"{t.id} ({t.guideline.id}): " + ", ".join(c.text for c in t.when) for t in topics if t.when)


def not_addressed_reason(reason: NotAddressed) -> tuple[str, list[str]]:
    """The rationale of an item no rule decided, and notes on the rules in force that did not apply.

    It names the request date and the service and region looked for, then either the periods the rules for
    them cover (none in force applied) or the conditions of the rules in force that did not hold.
    """
    what = f"{_words(reason.service)} ({_words(reason.region)} region)"
    if reason.kind == "no_rule":
        return (f"No rule in the rule base addresses {_words(reason.service)} for the {_words(reason.region)} "
                "region."), []
    lead = f"No rule in force on {reason.request_date} for {what} applies to this request"
    if reason.kind == "not_in_force":
        others = tuple(t for t in reason.candidates if t not in reason.in_force)
        notes = [f"in force on {reason.request_date} but not applicable: {t.id} ({t.guideline.id}), whose "
                 "conditions did not hold: " + ", ".join(c.text for c in t.when) for t in reason.in_force if t.when]
        return f"{lead}; the rules for it cover other periods: {_periods(others)}.", notes
    unmet = _conditions(reason.in_force)
    return f"{lead}: the conditions of the rules in force did not hold" + (f" ({unmet})." if unmet else "."), []


def not_addressed_record(reason: NotAddressed) -> NotAddressedReason:
    """The structured form of ``reason`` carried on the result (the rationale says the same in words)."""
    periods = sorted({f"{t.guideline.id} ({t.guideline.effective_from} to {t.guideline.effective_to or 'open'})"
                      for t in reason.candidates if t not in reason.in_force})
    return NotAddressedReason(kind=reason.kind, service=reason.service, region=reason.region,
                              request_date=str(reason.request_date),
                              rules_in_force=[t.id for t in reason.in_force], periods=periods)


def _not_addressed_result(evaluation: ItemEvaluation) -> ItemResult:
    item = evaluation.item
    reason, notes = not_addressed_reason(evaluation.not_addressed) if evaluation.not_addressed else (
        "No rule decided this request.", [])
    return ItemResult(
        item_id=item.id, description=item.description, service=item.service,
        body_region=item.body_region, decision="Not addressed", basis=None, rule=None, citation=None,
        rationale=reason, assumptions=list(evaluation.assumptions), notes=[*evaluation.notes, *notes],
        trace=list(evaluation.trace),
        not_addressed=not_addressed_record(evaluation.not_addressed) if evaluation.not_addressed else None)
