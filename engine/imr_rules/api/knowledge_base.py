"""``KnowledgeBase``: the rule base loaded, validated and compiled once, with the calls a program needs."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from imr_rules.cases.model import Case
from imr_rules.cases.reader import case_from_document, read_case
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.text import json_text
from imr_rules.common.yaml_source import SourceDocument
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge_base import default_rules_dir, evaluator
from imr_rules.engine.results import CaseResult, ItemResult
from imr_rules.review.determination import decision_record, render_document, render_pdf
from imr_rules.review.explanation import Explanation, explain_case
from imr_rules.review.report import render_text

CaseInput = Case | Mapping[str, Any] | str | os.PathLike[str]
"""A case as the API takes it: a validated ``Case``, case data (as parsed from YAML or JSON), or a file path."""
RenderFormat = Literal["text", "json", "markdown", "html", "pdf"]
FORMATS: tuple[RenderFormat, ...] = ("text", "json", "markdown", "html", "pdf")


@dataclass(frozen=True)
class Evaluation:
    """A case and its result (``CaseResult``): what ``render`` and the decision record need."""

    case: Case
    result: CaseResult

    @property
    def items(self) -> list[ItemResult]:
        """The result of each requested item, in the case's order."""
        return self.result.items

    def record(self) -> dict[str, Any]:
        """The decision record (``evaluate --format json``; schema ``docs/schemas/evaluation.schema.json``)."""
        return decision_record(self.case, self.result)


@dataclass(frozen=True)
class RuleSummary:
    """One topic rule of the catalogue: id, topic, guideline, period in force, citation, services."""

    id: str
    title: str
    topic: str
    guideline: str
    effective_from: str
    effective_to: str | None
    citation: str
    services: list[str]


class KnowledgeBase:
    """A rule base, validated and compiled once; evaluates and explains cases. Safe to share between threads."""

    def __init__(self, engine: Evaluator, rules_dir: Path) -> None:
        self.engine = engine
        self.rules_dir = rules_dir

    @classmethod
    def load(cls, rules_dir: str | os.PathLike[str] | None = None) -> KnowledgeBase:
        """The knowledge base of a rules folder (default: ``$IMR_RULES_DIR`` or the shipped rules).

        Built once per process and folder; raises ``InputError`` listing every problem of the rule base.
        """
        root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
        return cls(evaluator(root), root)

    @property
    def version(self) -> str:
        """The rule base version (a content hash), as stamped on every result."""
        return self.engine.rule_base_version

    def case(self, case: CaseInput, name: str = "<case>") -> Case:
        """``case`` validated against the case format and this rule base's vocabulary.

        ``name`` is the file name diagnostics give for case data. Raises ``InputError`` with every problem.
        """
        vocabulary = self.engine.compiled.rule_base.vocabulary
        if isinstance(case, Case):
            return case
        if isinstance(case, Mapping):
            document = SourceDocument(path=Path(name), data=dict(case), lines={})
            return case_from_document(document, vocabulary=vocabulary)
        if isinstance(case, str | os.PathLike):
            return read_case(Path(case), vocabulary=vocabulary)
        raise InputError([Diagnostic(name, None, "", f"not a case: a {type(case).__name__}",
                                     "give a Case, a mapping of case fields, or a case file path")])

    def evaluate(self, case: CaseInput) -> Evaluation:
        """Decide every requested item of ``case``; ``InputError`` if the case is not valid."""
        valid = self.case(case)
        return Evaluation(valid, self.engine.evaluate(valid))

    def explain(self, case: CaseInput, item: str | None = None, name: str = "<case>") -> Explanation:
        """Why each item (or ``item``) came out as it did, and what documentation or request change would turn it.

        An ``item`` that is not in the case raises ``InputError`` (``name``: the file name it gives case data).
        """
        valid = self.case(case, name)
        if item is not None and item not in {i.id for i in valid.requested_items}:
            raise InputError([Diagnostic(name, None, "item", f"no requested item {item!r}",
                                         f"items: {', '.join(i.id for i in valid.requested_items[:50])}")])
        return explain_case(self.engine, valid, self.rules_dir, item)

    def rules(self) -> list[RuleSummary]:
        """The topic rules of the rule base, by topic and period."""
        topics = sorted(self.engine.rule_base.topics, key=lambda t: (t.topic, t.guideline.effective_from, t.id))
        return [RuleSummary(t.id, t.title, t.topic, t.guideline.id, str(t.guideline.effective_from),
                            str(t.guideline.effective_to) if t.guideline.effective_to else None, t.citation_text(),
                            list(t.services)) for t in topics]


def render(evaluation: Evaluation, format: RenderFormat = "text", trace: bool = True) -> str | bytes:
    """An evaluation as ``imr-rules evaluate --format`` prints it: text (with the rules fired unless ``trace``
    is false), the JSON decision record, the determination as Markdown or HTML, or PDF bytes (needs the
    ``documents`` extra)."""
    if format == "json":
        return json_text(json.dumps(evaluation.record(), indent=2, ensure_ascii=False)) + "\n"
    if format in ("markdown", "html"):
        return render_document(evaluation.case, evaluation.result, format)
    if format == "pdf":
        return render_pdf(evaluation.case, evaluation.result)
    if format == "text":
        return render_text(evaluation.result, trace)
    raise ValueError(f"unknown format {format!r}; one of {', '.join(FORMATS)}")
