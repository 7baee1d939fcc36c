"""Render a regression run: a text report, JUnit XML for CI systems, and a self-contained HTML page."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from xml.etree import ElementTree

from imr_rules.common.text import printable
from imr_rules.regression.runner import CategoryRow, Flip, ItemOutcome, Metrics, metrics_by_split
from imr_rules.regression.split import CHECK_MODULUS, split_of

DECISIONS = ("Upheld", "Overturned")
NEEDS = "Needs licensed guideline"
PREDICTED = ("Upheld", "Overturned", "Not addressed", "Needs licensed guideline")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _fraction(top: int, bottom: int) -> str:
    return f"{top}/{bottom}"


def summary_lines(metrics: Metrics) -> list[str]:
    """The headline figures, one per line."""
    b = metrics.binary
    return [
        f"Coverage (items a rule decided): {_pct(metrics.coverage)} ({_fraction(metrics.addressed, metrics.items)})",
        f"Needing the licensed guideline text (named, not decided, not agreement): {metrics.needs_licensed}",
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


SPLIT_NOTE = (f"tune: seeds and dev letters whose case-number SHA-256 is not 0 mod {CHECK_MODULUS}; check: the "
              "others (imr_rules.regression.split). Rules are adjusted on tune disagreements only.")
CHECK_HIDDEN = ("not listed: do not tune rules on check items; --show-check-disagreements lists them for a "
                "final review only")


def _split_rows(by_split: dict[str, Metrics]) -> list[tuple[str, list[str]]]:
    def cells(render: Callable[[Metrics], object]) -> list[str]:
        return [str(render(by_split[name])) for name in ("all", "tune", "check")]

    def fraction(top: int, bottom: int, value: float | None) -> str:
        return f"{_pct(value)} ({top}/{bottom})"

    return [
        ("recorded items", cells(lambda m: m.items)),
        ("coverage", cells(lambda m: fraction(m.addressed, m.items, m.coverage if m.items else None))),
        ("agreement, all items", cells(lambda m: fraction(m.agree, m.items, m.agreement if m.items else None))),
        ("agreement, decided items", cells(lambda m: fraction(m.agree, m.addressed, m.agreement_addressed))),
        ("Overturned recall", cells(lambda m: fraction(m.binary.tp, m.binary.tp + m.binary.fn, m.binary.recall))),
        ("Overturned precision",
         cells(lambda m: fraction(m.binary.tp, m.binary.tp + m.binary.fp, m.binary.precision))),
        ("balanced accuracy", cells(lambda m: _pct(m.binary.balanced_accuracy))),
        ("MCC", cells(lambda m: "n/a" if m.binary.mcc is None else f"{m.binary.mcc:.3f}")),
        ("guideline agreement", cells(lambda m: fraction(m.guideline_agree, m.guideline_compared,
                                                         m.guideline_agreement))),
    ]


def split_lines(by_split: dict[str, Metrics]) -> list[str]:
    """Every headline figure for all items, the tune items and the check items, side by side."""
    lines = [f"  {'figure':<26}{'all':>20}{'tune':>20}{'check':>20}"]
    for label, values in _split_rows(by_split):
        lines.append(f"  {label:<26}" + "".join(f"{v:>20}" for v in values))
    return lines


def render_text(metrics: Metrics, rows: list[ItemOutcome], flips: list[Flip] | None, measured: dt.date,
                rule_base_version: str, cases: int, show_check: bool = False) -> str:
    """The full text report; disagreements and flips of check items are listed only with ``show_check``."""
    lines = [f"Regression: {metrics.items} recorded items in {cases} cases; rule base {rule_base_version}; "
             f"measured {measured.isoformat()}", "", "Confusion matrix (rows: recorded; columns: imr-rules):",
             f"  {'':<12}" + "".join(f"{p:>{26 if p == NEEDS else 15}}" for p in PREDICTED)]
    for recorded in DECISIONS:
        counts = [(metrics.confusion.get((recorded, p), 0), 26 if p == NEEDS else 15) for p in PREDICTED]
        lines.append(f"  {recorded:<12}" + "".join(f"{count:>{width}}" for count, width in counts))
    lines += ["", *summary_lines(metrics), "", "Tune and check (" + SPLIT_NOTE + "):",
              *split_lines(metrics_by_split(rows)), "", "Per category:",
              f"  {'category':<32}{'items':>6}{'decided':>9}{'agree':>7}{'overturned':>12}{'found':>7}"]
    for c in metrics.categories:
        lines.append(f"  {c.category:<32}{c.items:>6}{c.addressed:>9}{c.agree:>7}{c.overturned:>12}"
                     f"{c.overturned_found:>7}")
    lines += ["", *_disagreement_lines(rows, show_check)]
    if flips is not None:
        lines += ["", *_flip_lines(flips, show_check)]
    return "\n".join(lines) + "\n"


def _disagreements(rows: list[ItemOutcome]) -> list[ItemOutcome]:
    return [r for r in rows if r.addressed and r.recorded_decision and not r.agrees]


def _disagreement_lines(rows: list[ItemOutcome], show_check: bool) -> list[str]:
    every = _disagreements(rows)
    tune = [r for r in every if r.split == "tune"]
    check = [r for r in every if r.split == "check"]
    lines = [f"Disagreements, tune items ({len(tune)}):", *(_disagreement_line(r) for r in tune)]
    if show_check:
        lines += [f"Disagreements, check items ({len(check)}; for a final review, not for tuning):",
                  *(_disagreement_line(r) for r in check)]
    else:
        lines.append(f"Disagreements, check items ({len(check)}): {CHECK_HIDDEN}")
    return lines


def _disagreement_line(r: ItemOutcome) -> str:
    return (f"  {r.key:<18} {r.service:<22} recorded {r.recorded_decision:<10} imr-rules "
            f"{r.decision:<10} {r.rule}: {r.deciding or '-'}")


def _flip_lines(flips: list[Flip], show_check: bool) -> list[str]:
    shown = [f for f in flips if show_check or split_of_key(f.key) == "tune"]
    hidden = len(flips) - len(shown)
    lines = [f"Changes since the baseline ({len(flips)}):"]
    for flip in shown:
        state = f"accepted: {flip.accepted_reason}" if flip.accepted_reason else "UNEXPECTED"
        lines.append(f"  {flip.key:<18} {flip.what}  [rule {flip.responsible}]  {state}")
    if hidden:
        unexpected = sum(1 for f in flips if split_of_key(f.key) == "check" and f.accepted_reason is None)
        lines.append(f"  {hidden} change(s) of check items ({unexpected} unexpected): {CHECK_HIDDEN}")
    return lines


def split_of_key(key: str) -> str:
    """The split of an item key ``CASE/ITEM``."""
    return split_of(key.rsplit("/", 1)[0])


def render_junit(rows: list[ItemOutcome], show_check: bool = False) -> str:
    """JUnit XML: one test case per recorded item; a disagreement fails, an undecided item is skipped.

    A check item's failure names no rule or criterion unless ``show_check`` (rules are not tuned on them).
    """
    recorded = [r for r in rows if r.recorded_decision is not None]
    failures = [r for r in recorded if r.addressed and not r.agrees]
    skipped = [r for r in recorded if not r.addressed]  # not addressed, or needing the licensed text
    suite = ElementTree.Element("testsuite", name="imr-rules regress", tests=str(len(recorded)),
                                failures=str(len(failures)), skipped=str(len(skipped)), errors="0")
    for r in recorded:
        case = ElementTree.SubElement(suite, "testcase", classname=f"imr.{r.split}.{r.service}", name=printable(r.key))
        if r.needs_licensed:
            ElementTree.SubElement(case, "skipped", message=f"needs the licensed guideline text ({r.rule})")
        elif not r.addressed:
            ElementTree.SubElement(case, "skipped", message="not addressed by the rule base")
        elif not r.agrees:
            failure = ElementTree.SubElement(case, "failure", message=f"recorded {r.recorded_decision}, "
                                                                      f"imr-rules {r.decision}")
            failure.text = (f"rule {r.rule}; deciding criterion {r.deciding}" if show_check or r.split == "tune"
                            else f"check item: {CHECK_HIDDEN}")
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
                rule_base_version: str, show_check: bool = False) -> str:
    """A self-contained HTML report: headline figures, confusion matrix, per-category chart, disagreements."""
    e = html.escape
    matrix = "".join(
        f"<tr><th>{d}</th>" + "".join(
            f'<td class="{"ok" if d == p else ("na" if p in ("Not addressed", NEEDS) else "bad")}">'
            f"{metrics.confusion.get((d, p), 0)}</td>" for p in PREDICTED) + "</tr>" for d in DECISIONS)
    disagreements = "".join(
        f"<tr><td>{e(r.key)}</td><td>{e(r.service)}</td><td>{e(str(r.recorded_decision))}</td>"
        f"<td>{e(r.decision)}</td><td>{e(str(r.rule))}</td><td>{e(r.deciding or '-')}</td></tr>"
        for r in _disagreements(rows) if show_check or r.split == "tune")
    hidden = "" if show_check else f"<p>Check items: {e(CHECK_HIDDEN)}.</p>"
    flip_rows = "" if flips is None else "".join(
        f"<tr><td>{e(f.key)}</td><td>{e(f.what)}</td><td>{e(f.responsible)}</td>"
        f"<td>{e(f.accepted_reason or 'UNEXPECTED')}</td></tr>" for f in flips
        if show_check or split_of_key(f.key) == "tune")
    flips_html = "" if flips is None else (
        f"<h2>Changes since the baseline ({len(flips)})</h2><table><tr><th>item</th><th>change</th>"
        f"<th>rule</th><th>status</th></tr>{flip_rows}</table>")
    figures = "".join(f"<li>{e(line)}</li>" for line in summary_lines(metrics))
    split_table = "".join(f"<tr><th>{e(label)}</th>" + "".join(f"<td>{e(v)}</td>" for v in values) + "</tr>"
                          for label, values in _split_rows(metrics_by_split(rows)))
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
<h2>Tune and check</h2>
<p>{e(SPLIT_NOTE)}</p>
<table><tr><th>figure</th><th>all</th><th>tune</th><th>check</th></tr>{split_table}</table>
<h2>Confusion matrix</h2>
<table class="matrix"><tr><th>recorded \\ imr-rules</th>{columns}</tr>{matrix}</table>
<h2>Per category</h2>
{_bar_chart(metrics)}
<h2>Disagreements{"" if show_check else ", tune items"}</h2>
<table><tr><th>item</th><th>service</th><th>recorded</th><th>imr-rules</th><th>rule</th><th>deciding criterion</th></tr>
{disagreements}</table>{hidden}
{flips_html}
</body></html>
"""


def render_coverage(rows: list[CategoryRow], measured: dt.date, rule_base_version: str) -> str:
    """The coverage table: items, addressed share and decision agreement per service category."""
    lines = [f"Coverage measured {measured.isoformat()} with rule base {rule_base_version}", "",
             f"{'category':<32}{'items':>6}{'addressed':>11}{'share':>8}{'agree':>8}{'licensed':>10}"]
    total = CategoryRow("TOTAL")
    for row in rows:
        lines.append(_coverage_line(row))
        total.items += row.items
        total.addressed += row.addressed
        total.agree += row.agree
        total.recorded += row.recorded
        total.needs_licensed += row.needs_licensed
    lines += ["-" * 75, _coverage_line(total), "",
              "share: items decided by some rule (Upheld or Overturned); "
              "agree: addressed items whose decision equals the recorded one; "
              "licensed: items only the licensed guideline text could decide (named, not decided)"]
    return "\n".join(lines) + "\n"


def _coverage_line(row: CategoryRow) -> str:
    agree = f"{row.agree}/{row.recorded}" if row.recorded else "-"
    return f"{row.category:<32}{row.items:>6}{row.addressed:>11}{row.share:>8.0%}{agree:>8}{row.needs_licensed:>10}"
