"""The Python API of imr-rules: load a knowledge base once, evaluate and explain cases, render results.

    from imr_rules.api import KnowledgeBase, render

    kb = KnowledgeBase.load()                      # the shipped rules; or KnowledgeBase.load("my/rules")
    evaluation = kb.evaluate("cases/seeds/seed-001-lumbar-pt.yaml")   # a path, a dict or a Case
    for item in evaluation.items:
        print(item.item_id, item.decision, item.rule)
    print(render(evaluation, "markdown"))

A bad case raises ``InputError`` whose ``diagnostics`` locate every problem (file, line, field, hint), as
the command line prints them; a bad rule base raises it from ``load``. A ``KnowledgeBase`` may be shared
by threads (durable_rules calls are serialised); for throughput use processes (``imr-rules serve`` does).
Details: ``docs/api.md``.
"""

from __future__ import annotations

from imr_rules.api.knowledge_base import CaseInput, Evaluation, KnowledgeBase, RuleSummary, render
from imr_rules.cases.model import Case
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.extras import MissingExtraError
from imr_rules.engine.results import CaseResult, CriterionResult, ItemResult
from imr_rules.review.explanation import Explanation, ExplanationRecord

__all__ = ["Case", "CaseInput", "CaseResult", "CriterionResult", "Diagnostic", "Evaluation", "Explanation",
           "ExplanationRecord", "InputError", "ItemResult", "KnowledgeBase", "MissingExtraError", "RuleSummary",
           "render"]
