"""Render results: text that reads like the 'IMR ISSUES, DECISIONS AND RATIONALES' part of a letter, or JSON.

Text output is neutralised first: every string of the result (descriptions, values, rule texts) is put on
one line with its control characters escaped, so case text cannot forge a report line or drive the terminal.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from imr_rules.common.text import printable_data
from imr_rules.engine.results import CaseResult, FactRead, ItemResult
from imr_rules.rulebase.templates import format_value

if TYPE_CHECKING:
    from imr_rules.review.whatif import Change

STATE_MARK = {"met": "met", "not_met": "NOT MET", "not_documented": "NOT DOCUMENTED"}


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def _reads(reads: list[FactRead]) -> str:
    return ", ".join(f"{r.name}={format_value(r.value) if r.documented else 'not documented'}" for r in reads)


def _item_text(index: int, item: ItemResult, show_trace: bool) -> list[str]:
    lines = [f"{index}. {item.description}: {item.decision}", ""]
    lines += formulary_lines(item)
    if item.needs_licensed is not None and item.citation is not None:
        need = item.needs_licensed
        lines.append(f"  Guideline in force: {item.citation.text}.")
        lines.append(_wrap(f"Rule: {item.rule}; only the licensed guideline text decides {need.topic.replace('_', ' ')}"
                           f" (edition {need.edition}); missing public source: {need.missing} ({need.reference})."))
        lines.append("")
    elif item.citation is not None:
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


def formulary_lines(item: ItemResult) -> list[str]:
    """The formulary pre-screen of a medication item, shown before the guideline: status, rule, what it means."""
    screen = item.formulary
    if screen is None:
        return []
    lines = [_wrap(f"Formulary: {screen.label} ({screen.section}). {screen.text}")]
    lines += [_wrap(f"Drug List: {listing}", "    ") for listing in screen.listings]
    lines += [_wrap(f"Note: {note}", "    ") for note in screen.notes]
    return [*lines, ""]


def render_text(result: CaseResult, show_trace: bool = True) -> str:
    """The text report of a case."""
    result = printable_data(result)
    lines = ["IMR ISSUES, DECISIONS AND RATIONALES", "",
             f"Case {result.case_id}; request date {result.request_date}; rule base {result.rule_base_version}; "
             f"imr-rules {result.engine_version}", ""]
    for index, item in enumerate(result.items, start=1):
        lines += _item_text(index, item, show_trace)
    lines.append("Decision support only: a physician reviewer makes the determination.")
    return "\n".join(lines) + "\n"


def _value_words(value: Any) -> str:
    return "not documented" if value is None else format_value(value)


def render_explanation(result: CaseResult, changes: dict[str, list[Change]], item_id: str | None = None,
                       track: dict[str, list[str]] | None = None) -> str:
    """Per item: criteria with the facts read and their provenance, the request for information, and the
    smallest changes to the documented facts that would turn the decision; ``track`` gives, per item, the
    lines of the deciding rule's track record (``review.track_record.record_lines``)."""
    result, changes = printable_data(result), printable_data(changes)
    lines = [f"Case {result.case_id}; request date {result.request_date}; rule base {result.rule_base_version}", ""]
    for item in result.items:
        if item_id is not None and item.item_id != item_id:
            continue
        lines.append(f"Item {item.item_id}: {item.description}: {item.decision}"
                     + (f" ({item.citation.text})" if item.citation else ""))
        lines += (track or {}).get(item.item_id, [])
        lines += formulary_lines(item)
        for criterion in item.criteria:
            pad = "  " + "  " * criterion.depth
            lines.append(f"{pad}- {STATE_MARK[criterion.state]}: {criterion.label}"
                         + (f" ({criterion.note})" if criterion.note else ""))
            for read in criterion.reads:
                lines.append(f"{pad}    {read.name} = {_value_words(read.value if read.documented else None)}"
                             f"   [from {read.source}]")
        if item.missing_documentation:
            lines += ["", "  Request for information to the requesting physician: please provide"]
            lines += [f"    {n}. {ask}" for n, ask in enumerate(item.missing_documentation, 1)]
        lines += _offer_lines(item, changes)
        lines.append("")
    return "\n".join(lines)


WHAT_IF_HEADING = "What documentation or request change would change the decision"


def _offer_lines(item: ItemResult, changes: dict[str, list[Change]]) -> list[str]:
    """The offers found for one item: what the treating physician could document (if it is true) or change
    in the request, each checked by re-evaluating the item with it."""
    if item.decision in ("Not addressed", "Needs licensed guideline"):
        return []
    if item.item_id not in changes:
        return ["", f"  {WHAT_IF_HEADING}: not searched (explain searches the first {len(changes)} items of a "
                    f"case; run explain --item {item.item_id} for this one)."]
    found = changes[item.item_id]
    if not found:
        return ["", _wrap(f"{WHAT_IF_HEADING}: none found. Documenting one or two facts the record leaves open, "
                          "or changing the request, does not turn it; history (visits given, dates, age, surgeries "
                          "done) is never changed.")]
    lines = ["", _wrap(f"{WHAT_IF_HEADING} (each checked by re-evaluating the item; document only what is "
                       "true):")]
    for change in found:
        text = f"{'; and '.join(change.offers)}: would be {change.decision} under {change.rule}"
        lines.append(textwrap.fill(text, width=100, initial_indent="    - ", subsequent_indent="      ",
                                   break_on_hyphens=False))
    return lines
