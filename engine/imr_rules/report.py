"""Render results: text that reads like the 'IMR ISSUES, DECISIONS AND RATIONALES' part of a letter, or JSON."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

from .authoring import example_paths
from .explain import format_value
from .regression import CoverageRow
from .results import CaseResult, FactRead, ItemResult
from .rule_model import RuleBase

STATE_MARK = {"met": "met", "not_met": "NOT MET", "not_documented": "NOT DOCUMENTED"}


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def _reads(reads: list[FactRead]) -> str:
    return ", ".join(f"{r.name}={format_value(r.value) if r.documented else 'not documented'}" for r in reads)


def _item_text(index: int, item: ItemResult, show_trace: bool) -> list[str]:
    lines = [f"{index}. {item.description}: {item.decision}", ""]
    if item.citation is not None:
        lines.append(f"  Guideline: Decision based on {item.citation.text}.")
        lines.append(_wrap(f"Rule: {item.rule}; basis: criteria {str(item.basis).replace('_', ' ')}."))
        lines.append("")
    lines.append(_wrap(f"Decision rationale: {item.rationale}"))
    if item.criteria:
        lines += ["", "  Criteria:"]
        for criterion in item.criteria:
            pad = "    " + "  " * criterion.depth
            detail = f" [{_reads(criterion.reads)}]" if criterion.reads else ""
            note = f" ({criterion.note})" if criterion.note else ""
            lines.append(f"{pad}- {STATE_MARK[criterion.state]}: {criterion.label}{detail}{note}")
    if item.missing_documentation:
        lines += ["", "  Documentation missing (request from the treating physician):"]
        lines += [f"    - {ask}" for ask in item.missing_documentation]
    if item.assumptions:
        lines += ["", "  Assumptions:"] + [f"    - {a}" for a in item.assumptions]
    if item.notes:
        lines += ["", "  Notes:"] + [f"    - {n}" for n in item.notes]
    if show_trace and item.trace:
        lines += ["", "  Rules fired, in order:"]
        for step in item.trace:
            reads = f" <- {_reads(step.reads)}" if step.reads else ""
            lines.append(f"    {step.step:>2}. [{step.kind}] {step.rule}: {step.concluded}{reads}")
    return [*lines, ""]


def render_text(result: CaseResult, show_trace: bool = True) -> str:
    """The text report of a case."""
    lines = ["IMR ISSUES, DECISIONS AND RATIONALES", "",
             f"Case {result.case_id}; request date {result.request_date}; rule base {result.rule_base_version}; "
             f"imr-rules {result.engine_version}", ""]
    for index, item in enumerate(result.items, start=1):
        lines += _item_text(index, item, show_trace)
    lines.append("Decision support only: a physician reviewer makes the determination.")
    return "\n".join(lines) + "\n"


def render_coverage(rows: list[CoverageRow], measured: dt.date, rule_base_version: str) -> str:
    """The coverage table: items, addressed share and decision agreement per service category."""
    lines = [f"Coverage measured {measured.isoformat()} with rule base {rule_base_version}", "",
             f"{'category':<32}{'items':>6}{'addressed':>11}{'share':>8}{'agree':>8}"]
    total = CoverageRow("TOTAL")
    for row in rows:
        lines.append(_coverage_line(row))
        total.items += row.items
        total.addressed += row.addressed
        total.agree += row.agree
        total.recorded += row.recorded
    lines += ["-" * 65, _coverage_line(total), "",
              "share: items decided by some rule (not 'Not addressed'); "
              "agree: addressed items whose decision equals the recorded one"]
    return "\n".join(lines) + "\n"


def _coverage_line(row: CoverageRow) -> str:
    agree = f"{row.agree}/{row.recorded}" if row.recorded else "-"
    return f"{row.category:<32}{row.items:>6}{row.addressed:>11}{row.share:>8.0%}{agree:>8}"


def render_catalogue(rule_base: RuleBase, markdown: bool) -> str:
    """The rule catalogue as an aligned text table or a Markdown table."""
    header = ("rule", "topic", "guideline", "in force", "citation", "services", "examples")
    rows = []
    for topic in sorted(rule_base.topics, key=lambda t: (t.topic, t.guideline.effective_from, t.id)):
        guideline = topic.guideline
        period = f"{guideline.effective_from} to {guideline.effective_to or 'open'}"
        cited = f"pp. {topic.citation.pages}" if topic.citation.pages else (topic.citation.section or "")
        rows.append((topic.id, topic.topic, f"{guideline.id} ({guideline.source})", period, cited,
                     ", ".join(topic.services), str(len(example_paths(topic)))))
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    return "\n".join(lines) + f"\n\n{len(rows)} topic rules, rule base {rule_base.version}\n"


def render_json(result: CaseResult) -> str:
    """The JSON report of a case (schema version 1, documented in the README)."""
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
