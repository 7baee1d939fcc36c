"""Render a regression run: a text report, JUnit XML for CI systems, and a self-contained HTML page."""

from __future__ import annotations

import datetime as dt
import html
from xml.etree import ElementTree

from imr_rules.common.text import printable
from imr_rules.regression.runner import CategoryRow, Flip, ItemOutcome, Metrics

DECISIONS = ("Upheld", "Overturned")
PREDICTED = ("Upheld", "Overturned", "Not addressed")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _fraction(top: int, bottom: int) -> str:
    return f"{top}/{bottom}"


def summary_lines(metrics: Metrics) -> list[str]:
    """The headline figures, one per line."""
    b = metrics.binary
    return [
        f"Coverage (items a rule decided): {_pct(metrics.coverage)} ({_fraction(metrics.addressed, metrics.items)})",
        f"Decision agreement, all items: {_pct(metrics.agreement)} ({_fraction(metrics.agree, metrics.items)}); "
        f"items a rule decided: {_pct(metrics.agreement_addressed)} ({_fraction(metrics.agree, metrics.addressed)})",
        f"Overturned recall: {_pct(b.recall)} ({_fraction(b.tp, b.tp + b.fn)}); precision: {_pct(b.precision)} "
        f"({_fraction(b.tp, b.tp + b.fp)}); balanced accuracy: {_pct(b.balanced_accuracy)}; "
        f"MCC: {'n/a' if b.mcc is None else f'{b.mcc:.3f}'}  (over items a rule decided)",
        f"Overturned recall counting undecided items as missed: {_pct(metrics.overturned_recall_all)} "
        f"({_fraction(b.tp, metrics.overturned_total)})",
        f"Guideline agreement, same document: {_pct(metrics.guideline_agreement)} "
        f"({_fraction(metrics.guideline_agree, metrics.guideline_compared)}); same pages or section where the "
        f"letter gives them: {_pct(metrics.place_agreement)} "
        f"({_fraction(metrics.place_agree, metrics.place_compared)})",
    ]


def render_text(metrics: Metrics, rows: list[ItemOutcome], flips: list[Flip] | None, measured: dt.date,
                rule_base_version: str, cases: int) -> str:
    """The full text report."""
    lines = [f"Regression: {metrics.items} recorded items in {cases} cases; rule base {rule_base_version}; "
             f"measured {measured.isoformat()}", "", "Confusion matrix (rows: recorded; columns: imr-rules):",
             f"  {'':<12}" + "".join(f"{p:>15}" for p in PREDICTED)]
    for recorded in DECISIONS:
        lines.append(f"  {recorded:<12}" + "".join(f"{metrics.confusion.get((recorded, p), 0):>15}" for p in PREDICTED))
    lines += ["", *summary_lines(metrics), "", "Per category:",
              f"  {'category':<32}{'items':>6}{'decided':>9}{'agree':>7}{'overturned':>12}{'found':>7}"]
    for c in metrics.categories:
        lines.append(f"  {c.category:<32}{c.items:>6}{c.addressed:>9}{c.agree:>7}{c.overturned:>12}"
                     f"{c.overturned_found:>7}")
    disagreements = [r for r in rows if r.addressed and r.recorded_decision and not r.agrees]
    lines += ["", f"Disagreements ({len(disagreements)}):"]
    for r in disagreements:
        lines.append(f"  {r.key:<18} {r.service:<22} recorded {r.recorded_decision:<10} imr-rules "
                     f"{r.decision:<10} {r.rule}: {r.deciding or '-'}")
    if flips is not None:
        lines += ["", f"Changes since the baseline ({len(flips)}):"]
        for flip in flips:
            state = f"accepted: {flip.accepted_reason}" if flip.accepted_reason else "UNEXPECTED"
            lines.append(f"  {flip.key:<18} {flip.what}  [rule {flip.responsible}]  {state}")
    return "\n".join(lines) + "\n"


def render_junit(rows: list[ItemOutcome]) -> str:
    """JUnit XML: one test case per recorded item; a disagreement fails, an undecided item is skipped."""
    recorded = [r for r in rows if r.recorded_decision is not None]
    failures = [r for r in recorded if r.addressed and not r.agrees]
    skipped = [r for r in recorded if not r.addressed]
    suite = ElementTree.Element("testsuite", name="imr-rules regress", tests=str(len(recorded)),
                                failures=str(len(failures)), skipped=str(len(skipped)), errors="0")
    for r in recorded:
        case = ElementTree.SubElement(suite, "testcase", classname=f"imr.{r.service}", name=printable(r.key))
        if not r.addressed:
            ElementTree.SubElement(case, "skipped", message="not addressed by the rule base")
        elif not r.agrees:
            failure = ElementTree.SubElement(case, "failure", message=f"recorded {r.recorded_decision}, "
                                                                      f"imr-rules {r.decision}")
            failure.text = f"rule {r.rule}; deciding criterion {r.deciding}"
    root = ElementTree.Element("testsuites")
    root.append(suite)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _bar_chart(metrics: Metrics) -> str:
    """A horizontal stacked bar per category: agree, disagree, not addressed (inline SVG)."""
    rows = metrics.categories
    scale = 360 / max((c.items for c in rows), default=1)
    height = 22 * len(rows) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{height}" role="img" '
             'aria-label="Per-category results">']
    for index, c in enumerate(rows):
        y = 10 + index * 22
        parts.append(f'<text x="230" y="{y + 13}" text-anchor="end" font-size="12">{html.escape(c.category)}</text>')
        x = 240.0
        for value, colour in ((c.agree, "#2e7d32"), (c.addressed - c.agree, "#c62828"),
                              (c.items - c.addressed, "#b0bec5")):
            width = value * scale
            if width:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="16" fill="{colour}"/>')
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 13}" font-size="11">{c.agree}/{c.items}</text>')
    legend_y = height - 12
    for offset, (label, colour) in enumerate((("agrees", "#2e7d32"), ("disagrees", "#c62828"),
                                              ("not addressed", "#b0bec5"))):
        x = 240 + offset * 130
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="{legend_y}" font-size="12">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(metrics: Metrics, rows: list[ItemOutcome], flips: list[Flip] | None, measured: dt.date,
                rule_base_version: str) -> str:
    """A self-contained HTML report: headline figures, confusion matrix, per-category chart, disagreements."""
    e = html.escape
    matrix = "".join(
        f"<tr><th>{d}</th>" + "".join(
            f'<td class="{"ok" if d == p else ("na" if p == "Not addressed" else "bad")}">'
            f"{metrics.confusion.get((d, p), 0)}</td>" for p in PREDICTED) + "</tr>" for d in DECISIONS)
    disagreements = "".join(
        f"<tr><td>{e(r.key)}</td><td>{e(r.service)}</td><td>{e(str(r.recorded_decision))}</td>"
        f"<td>{e(r.decision)}</td><td>{e(str(r.rule))}</td><td>{e(r.deciding or '-')}</td></tr>"
        for r in rows if r.addressed and r.recorded_decision and not r.agrees)
    flip_rows = "" if flips is None else "".join(
        f"<tr><td>{e(f.key)}</td><td>{e(f.what)}</td><td>{e(f.responsible)}</td>"
        f"<td>{e(f.accepted_reason or 'UNEXPECTED')}</td></tr>" for f in flips)
    flips_html = "" if flips is None else (
        f"<h2>Changes since the baseline ({len(flips)})</h2><table><tr><th>item</th><th>change</th>"
        f"<th>rule</th><th>status</th></tr>{flip_rows}</table>")
    figures = "".join(f"<li>{e(line)}</li>" for line in summary_lines(metrics))
    columns = "".join(f"<th>{p}</th>" for p in PREDICTED)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>imr-rules regression</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
td:first-child, td:nth-child(5) {{ white-space: nowrap; }}
td.ok {{ background: #c8e6c9; }} td.bad {{ background: #ffcdd2; }} td.na {{ background: #eceff1; }}
.matrix td {{ text-align: right; min-width: 6rem; font-size: 1.2rem; }}
</style></head><body>
<h1>imr-rules regression</h1>
<p>{metrics.items} recorded items; rule base {e(rule_base_version)}; measured {measured.isoformat()}.</p>
<ul>{figures}</ul>
<h2>Confusion matrix</h2>
<table class="matrix"><tr><th>recorded \\ imr-rules</th>{columns}</tr>{matrix}</table>
<h2>Per category</h2>
{_bar_chart(metrics)}
<h2>Disagreements</h2>
<table><tr><th>item</th><th>service</th><th>recorded</th><th>imr-rules</th><th>rule</th><th>deciding criterion</th></tr>
{disagreements}</table>
{flips_html}
</body></html>
"""


def render_coverage(rows: list[CategoryRow], measured: dt.date, rule_base_version: str) -> str:
    """The coverage table: items, addressed share and decision agreement per service category."""
    lines = [f"Coverage measured {measured.isoformat()} with rule base {rule_base_version}", "",
             f"{'category':<32}{'items':>6}{'addressed':>11}{'share':>8}{'agree':>8}"]
    total = CategoryRow("TOTAL")
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


def _coverage_line(row: CategoryRow) -> str:
    agree = f"{row.agree}/{row.recorded}" if row.recorded else "-"
    return f"{row.category:<32}{row.items:>6}{row.addressed:>11}{row.share:>8.0%}{agree:>8}"
