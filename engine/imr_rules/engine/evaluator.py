"""Evaluate stage: run each requested item of a case in an item session against the knowledge base.

An item is routed to the ruleset of its service, body region and period; its session asserts the item's
facts, runs, and returns a frozen ``ItemEvaluation`` with the decision taken; the explanation renders it.
Thread-safe: the engine serialises sessions (see ``durable_adapter``).
"""

from __future__ import annotations

from typing import Any

from imr_rules import __version__
from imr_rules.cases.facts import FactValue, project_item
from imr_rules.cases.model import Case, RequestedItem
from imr_rules.engine.explain import explain_item
from imr_rules.engine.formulary import screen_item
from imr_rules.engine.knowledge import KnowledgeBase, knowledge_base_of
from imr_rules.engine.results import CaseResult, ItemResult
from imr_rules.engine.session import ActionRunner, ItemEvaluation, ItemSession, combine, not_addressed, session_facts
from imr_rules.rulebase.compiler import CompiledRuleBase
from imr_rules.rulebase.model import RuleBase

__all__ = ["Evaluator", "combine"]


class Evaluator:
    """Evaluates cases, one item session at a time, against one knowledge base."""

    def __init__(self, knowledge_base: KnowledgeBase | CompiledRuleBase) -> None:
        if isinstance(knowledge_base, CompiledRuleBase):
            knowledge_base = knowledge_base_of(knowledge_base)
        self.knowledge_base = knowledge_base
        self.compiled = knowledge_base.compiled
        self.engine = knowledge_base.engine

    @property
    def rule_base(self) -> RuleBase:
        """The validated rule base."""
        return self.knowledge_base.rule_base

    @property
    def rule_base_version(self) -> str:
        """The content hash of the rule base."""
        return self.knowledge_base.version

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
        A service marked ``each_region`` in the vocabulary (imaging) is judged region by region when the item
        names several (``by_region``).
        """
        parts = self.region_parts(item)
        if len(parts) > 1:
            return by_region([self._evaluate_part(case, part, decisions, overrides) for part in parts])
        return self._evaluate_routed(case, item, decisions, overrides)

    def _evaluate_routed(self, case: Case, item: RequestedItem, decisions: dict[str, str] | None,
                         overrides: dict[str, Any] | None) -> ItemResult:
        """The item routed by its first region; when no rule addresses that region, by the next one that has
        a rule (the order an encoder lists an item's regions in does not leave it unaddressed)."""
        first = self._evaluate_part(case, item, decisions, overrides)
        if first.decision != "Not addressed":
            return first
        regions = list(dict.fromkeys(item.regions))
        for region in regions[1:]:
            rerouted = item.model_copy(update={"regions": [region, *(r for r in regions if r != region)]})
            result = self._evaluate_part(case, rerouted, decisions, overrides)
            if result.decision != "Not addressed":
                result.notes = [f"No rule addresses {item.service.replace('_', ' ')} for the "
                                f"{item.body_region.replace('_', ' ')} region; the request is judged by its "
                                f"{region.replace('_', ' ')} region.", *result.notes]
                return result
        return first

    def region_parts(self, item: RequestedItem) -> list[RequestedItem]:
        """The item itself, or one copy per region when its service is judged region by region."""
        term = self.rule_base.vocabulary.terms["services"].get(item.service)
        regions = list(dict.fromkeys(item.regions))
        if term is None or not term.each_region or len(regions) < 2:
            return [item]
        return [item.model_copy(update={"regions": [region]}) for region in regions]

    def _evaluate_part(self, case: Case, item: RequestedItem, decisions: dict[str, str] | None,
                       overrides: dict[str, Any] | None) -> ItemResult:
        result = explain_item(self.rule_base, self.session(case, item, decisions, overrides))
        result.formulary = screen_item(case, item, self.rule_base.vocabulary)
        return result

    def session(self, case: Case, item: RequestedItem, decisions: dict[str, str] | None = None,
                overrides: dict[str, Any] | None = None) -> ItemEvaluation:
        """Run one item's session and return its frozen evaluation record (decision taken)."""
        request_date = case.item_request_date(item)
        ruleset = self.knowledge_base.ruleset_for(item.service, item.body_region, request_date)
        session = ItemSession(item)
        if ruleset is None:
            return session.freeze(not_addressed(self.compiled, item, request_date))
        base = project_item(case, item, ruleset.base_facts, decisions or {}, self.compiled.rule_base.vocabulary)
        changed = overrides or {}
        base = [FactValue(f.name, changed[f.name], "what-if change") if f.name in changed else f for f in base]
        ActionRunner(self.compiled, ruleset, session).run(self.engine, session_facts(self.compiled, session, base))
        if not session.active:
            return session.freeze(not_addressed(self.compiled, item, request_date))
        return session.freeze()


_REGION_ORDER = {"Upheld": 0, "Not addressed": 1, "Needs licensed guideline": 2, "Overturned": 3}


def by_region(results: list[ItemResult]) -> ItemResult:
    """One item judged region by region: necessary only if it is for every region.

    The result of the first region that is not Overturned decides (Upheld before Not addressed before
    Needs licensed guideline), else the first region's; a note lists each region's decision.
    """
    deciding = min(results, key=lambda result: _REGION_ORDER[result.decision])
    summary = ", ".join(f"{result.body_region} {result.decision}" for result in results)
    deciding.notes = [f"Each region of this request is judged on its own ({summary}); the request is medically "
                      "necessary only if it is so for every region.", *deciding.notes]
    return deciding


def _procedures_first(items: list[RequestedItem]) -> list[RequestedItem]:
    """Items in an order where a procedure is decided before the items that accompany it."""
    ancillary = [item for item in items if item.ancillary_item is not None]
    return [item for item in items if item.ancillary_item is None] + ancillary
