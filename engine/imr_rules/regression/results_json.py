"""A regression run as data: JSON (``regress --format json``) and SARIF 2.1.0 (``regress --format sarif``).

Both list the disagreements of tune items; check items' disagreements only with ``show_check`` (rules are
never tuned on them), as the text report does. Figures always cover all, tune and check items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imr_rules import __version__
from imr_rules.common.diagnostics import Diagnostic
from imr_rules.regression.runner import FileResult, Flip, ItemOutcome, Metrics, metrics_by_split

REGRESSION_SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass
class SplitFigures:
    """The headline figures of one split (all, tune or check); ratios are ``null`` when undefined."""

    items: int
    addressed: int
    agree: int
    coverage: float | None
    agreement: float | None
    agreement_addressed: float | None
    overturned_recall: float | None
    overturned_precision: float | None
    overturned_total: int
    guideline_agreement: float | None
    place_agreement: float | None


@dataclass
class Disagreement:
    """A recorded item the rule base decided otherwise than the reviewer (or did not decide)."""

    key: str
    file: str
    split: str
    service: str
    recorded_decision: str
    decision: str
    basis: str | None
    rule: str | None
    deciding: str | None
    guideline: str | None
    recorded_guideline: str | None


@dataclass
class InputProblem:
    """A problem of an input that could not be evaluated."""

    file: str
    line: int | None
    field: str
    message: str
    hint: str


@dataclass
class RegressionRecord:
    """The JSON form of a regression run (schema ``docs/schemas/regression.schema.json``)."""

    schema_version: int
    rule_base_version: str
    engine_version: str
    date: str
    cases: int
    figures: dict[str, SplitFigures]
    disagreements: list[Disagreement]
    check_disagreements_hidden: int
    flips: list[Flip] | None
    failed_inputs: list[InputProblem]


def _figures(metrics: Metrics) -> SplitFigures:
    b = metrics.binary
    return SplitFigures(metrics.items, metrics.addressed, metrics.agree,
                        metrics.coverage if metrics.items else None, metrics.agreement if metrics.items else None,
                        metrics.agreement_addressed, b.recall, b.precision, metrics.overturned_total,
                        metrics.guideline_agreement, metrics.place_agreement)


def _disagreement(row: ItemOutcome, file: str) -> Disagreement:
    assert row.recorded_decision is not None
    return Disagreement(row.key, file, row.split, row.service, row.recorded_decision, row.decision, row.basis,
                        row.rule, row.deciding, row.guideline, row.recorded_guideline)


def regression_record(results: list[FileResult], flips: list[Flip] | None, rule_base_version: str, today: dt.date,
                      show_check: bool = False) -> RegressionRecord:
    """The run as a ``RegressionRecord``: figures per split, listed disagreements, flips, failed inputs."""
    rows = [row for result in results for row in result.outcomes]
    files = {row.key: result.path.as_posix() for result in results for row in result.outcomes}
    wrong = [row for row in rows if row.recorded_decision is not None and not row.agrees]
    shown = [row for row in wrong if show_check or row.split == "tune"]
    problems = [d for result in results for d in result.problems]
    return RegressionRecord(
        REGRESSION_SCHEMA_VERSION, rule_base_version, __version__, today.isoformat(),
        sum(1 for result in results if result.outcomes),
        {name: _figures(m) for name, m in metrics_by_split(rows).items()},
        [_disagreement(row, files[row.key]) for row in shown], len(wrong) - len(shown),
        flips,
        [_problem(d) for d in problems])


def _problem(diagnostic: Diagnostic) -> InputProblem:
    return InputProblem(diagnostic.file, diagnostic.line, diagnostic.field, diagnostic.message, diagnostic.hint)


def regression_json(record: RegressionRecord) -> dict[str, Any]:
    """The JSON form of ``record``."""
    return asdict(record)


def regression_sarif(record: RegressionRecord) -> dict[str, Any]:
    """The listed disagreements and unaccepted flips as a SARIF 2.1.0 log (one result each)."""
    rules = sorted({d.rule or "not-addressed" for d in record.disagreements})
    results = [{
        "ruleId": d.rule or "not-addressed", "level": "warning", "kind": "fail",
        "message": {"text": f"{d.key}: recorded {d.recorded_decision}, imr-rules {d.decision}"
                            + (f" (deciding criterion {d.deciding})" if d.deciding else "")},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(d.file)}}}],
        "partialFingerprints": {"item": d.key}, "properties": {"split": d.split, "service": d.service},
    } for d in record.disagreements]
    results += [{
        "ruleId": str(f.after.get("rule") or "not-addressed"), "level": "error", "kind": "fail",
        "message": {"text": f"{f.key}: changed since the baseline: decision {f.before.get('decision')} -> "
                            f"{f.after.get('decision')}, guideline {f.before.get('guideline')} -> "
                            f"{f.after.get('guideline')}"},
        "partialFingerprints": {"item": f.key}, "properties": {"flip": True},
    } for f in record.flips or [] if f.accepted_reason is None]
    driver = {"name": "imr-rules", "version": record.engine_version,
              "rules": [{"id": rule} for rule in rules]}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": driver}, "results": results,
        "properties": {"rule_base_version": record.rule_base_version, "date": record.date,
                       "check_disagreements_hidden": record.check_disagreements_hidden}}]}


def _uri(file: str) -> str:
    path = Path(file)
    return path.as_posix() if not path.is_absolute() else path.as_uri()
