"""Authoring checks over a validated rule base: rules that can never fire, and rules that conflict.

Errors: a condition list that cannot hold together; a fact read that no rule concludes; two topic rules
for the same topic and edition with the same applicability (they would decide the same items twice);
two derivations with the same conditions concluding different values.
Warnings: a derived fact declared but never concluded or never read.
"""

from __future__ import annotations

from imr_rules.common.diagnostics import Diagnostic
from imr_rules.rulebase.conditions import contradiction
from imr_rules.rulebase.model import Derivation, Located, RuleBase, Topic
from imr_rules.rulebase.templates import template_fields

__all__ = ["check_conflicts", "check_never_fire", "contradiction", "lint"]


def _diagnostic(where: Located, field: str, message: str, hint: str, severity: str = "error") -> Diagnostic:
    return Diagnostic(where.file, where.line, field, message, hint, "error" if severity == "error" else "warning")


def _concluded(rule_base: RuleBase) -> set[str]:
    derivations = rule_base.derivations + [d for t in rule_base.topics for d in t.derive]
    return {name for d in derivations for name, _ in d.conclusions}


def _reads(rule_base: RuleBase) -> dict[str, Located]:
    reads: dict[str, Located] = {}
    for derivation in rule_base.derivations:
        for name in _derivation_reads(derivation):
            reads.setdefault(name, derivation.where)
    for topic in rule_base.topics:
        for condition in topic.when:
            for name in condition.facts_read:
                reads.setdefault(name, topic.where)
        for derivation in topic.derive:
            for name in _derivation_reads(derivation):
                reads.setdefault(name, derivation.where)
        for criterion in topic.all_criteria():
            if criterion.test is not None:
                for name in criterion.test.facts_read:
                    reads.setdefault(name, criterion.where)
    return reads


def _derivation_reads(derivation: Derivation) -> set[str]:
    reads = {f for c in derivation.when for f in c.facts_read}
    return reads | {f for _, e in derivation.conclusions for f in e.facts_read}


def check_never_fire(rule_base: RuleBase) -> list[Diagnostic]:
    """Rules whose conditions contradict each other, and facts read that no rule concludes."""
    found: list[Diagnostic] = []
    for derivation in rule_base.derivations + [d for t in rule_base.topics for d in t.derive]:
        reason = contradiction(derivation.when)
        if reason:
            found.append(_diagnostic(derivation.where, "when", f"rule {derivation.id} can never fire: {reason}",
                                     "remove or correct one of the conditions"))
    for topic in rule_base.topics:
        reason = contradiction(topic.when)
        if reason:
            found.append(_diagnostic(topic.where, "applies_to.when", f"rule {topic.id} can never apply: {reason}",
                                     "remove or correct one of the conditions"))
        for leaf in (c for c in topic.all_criteria() if c.test is not None):
            assert leaf.test is not None
            reason = contradiction([*topic.when, leaf.test])
            if reason:
                found.append(_diagnostic(leaf.where, "test", f"criterion {leaf.key} can never be met: {reason}",
                                         "the topic's applies_to.when already excludes it"))
    concluded = _concluded(rule_base)
    for name, where in sorted(_reads(rule_base).items()):
        spec = rule_base.facts[name]
        if spec.origin != "case" and name not in concluded:
            found.append(_diagnostic(where, name, f"no rule concludes '{name}', so rules reading it never fire",
                                     f"add a derivation concluding it, or remove it from {spec.origin}"))
    reads = _reads(rule_base)
    for name, spec in rule_base.facts.items():
        if spec.origin == "case":
            continue
        where = Located(spec.origin, None)
        if name not in concluded and name not in reads:
            found.append(_diagnostic(where, name, f"derived fact '{name}' is declared but never used", "remove it",
                                     "warning"))
        elif name in concluded and name not in reads and not _templated(rule_base, name):
            found.append(_diagnostic(where, name, f"derived fact '{name}' is concluded but never read",
                                     "a rule or template should read it, or remove it", "warning"))
    return found


def _templated(rule_base: RuleBase, name: str) -> bool:
    for topic in rule_base.topics:
        texts = [topic.rationale.overturned, topic.rationale.upheld, topic.rationale.not_documented]
        for criterion in topic.all_criteria():
            if criterion.texts is not None:
                texts += [criterion.texts.met, criterion.texts.not_met, criterion.texts.not_documented]
        if any(name in template_fields(text) for text in texts):
            return True
    return False


def _applicability(topic: Topic) -> tuple[str, str, frozenset[str], frozenset[str] | None, frozenset[str]]:
    regions = frozenset(topic.body_regions) if topic.body_regions else None
    return (topic.topic, topic.guideline.id, frozenset(topic.services), regions,
            frozenset(c.text for c in topic.when))


def check_conflicts(rule_base: RuleBase) -> list[Diagnostic]:
    """Topic rules that would decide the same items twice; derivations that disagree on the same conditions."""
    found: list[Diagnostic] = []
    seen: dict[tuple[object, ...], Topic] = {}
    for topic in rule_base.topics:
        key = _applicability(topic)
        other = seen.get(key)
        if other is not None:
            found.append(_diagnostic(topic.where, "applies_to",
                                     f"rule {topic.id} has the same topic, edition and conditions as {other.id} "
                                     f"({other.where})", "merge the two, or make their applies_to differ"))
        seen.setdefault(key, topic)
    conclusions: dict[tuple[str | None, frozenset[str], str], tuple[str, Derivation]] = {}
    for derivation in rule_base.derivations + [d for t in rule_base.topics for d in t.derive]:
        conditions = frozenset(c.text for c in derivation.when)
        for name, expression in derivation.conclusions:
            slot = (derivation.topic, conditions, name)
            value = str(expression.literal) if expression.literal is not None else str(expression.terms)
            previous = conclusions.get(slot)
            if previous is not None and previous[0] != value:
                found.append(_diagnostic(derivation.where, f"conclude.{name}",
                                         f"rule {derivation.id} concludes {name} = {value} on the same conditions "
                                         f"where {previous[1].id} concludes {previous[0]}",
                                         "the two rules conflict; keep one"))
            conclusions.setdefault(slot, (value, derivation))
    return found


def lint(rule_base: RuleBase) -> list[Diagnostic]:
    """Every authoring check."""
    return check_never_fire(rule_base) + check_conflicts(rule_base)
