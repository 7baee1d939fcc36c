"""Run many cases and compare with their recorded determinations: coverage and agreement figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .case_model import Case
from .case_reader import read_case
from .diagnostics import Diagnostic, InputError
from .evaluator import Evaluator


@dataclass(frozen=True)
class ItemOutcome:
    """One evaluated item beside its recorded determination (if the case has one)."""

    case_id: str
    item_id: str
    service: str
    decision: str
    basis: str | None
    rule: str | None
    guideline: str | None
    recorded_decision: str | None
    recorded_guideline: str | None

    @property
    def addressed(self) -> bool:
        """Whether some rule decided the item."""
        return self.decision != "Not addressed"


def case_files(paths: Iterable[Path]) -> list[Path]:
    """Case files under ``paths`` (files as given; folders searched for *.yaml, skipping example folders)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*.y*ml"))
                         if not p.name.startswith("_") and not any(x.endswith(".examples") for x in p.parts))
        else:
            found.append(path)
    return found


@dataclass(frozen=True)
class FileResult:
    """The item outcomes of one case file, or the problems that kept it from being evaluated."""

    path: Path
    outcomes: list[ItemOutcome]
    problems: list[Diagnostic]


def evaluate_files(files: Iterable[Path], evaluator: Evaluator) -> Iterator[FileResult]:
    """Evaluate each case file in turn; a file that is not a valid case yields its problems instead."""
    for path in files:
        try:
            case = read_case(path)
        except InputError as exc:
            yield FileResult(path, [], exc.diagnostics)
            continue
        yield FileResult(path, outcomes(case, evaluator), [])


def outcomes(case: Case, evaluator: Evaluator) -> list[ItemOutcome]:
    """The outcome of each item of ``case`` beside its recorded determination."""
    recorded = {r.item: r for r in case.recorded.items} if case.recorded else {}
    result = evaluator.evaluate(case)
    rows = []
    for item in result.items:
        rec = recorded.get(item.item_id)
        rows.append(ItemOutcome(case.case_id, item.item_id, item.service, item.decision, item.basis, item.rule,
                                item.citation.guideline_id if item.citation else None,
                                rec.decision if rec else None, rec.guideline if rec else None))
    return rows


@dataclass
class CoverageRow:
    """Coverage and agreement for one service category."""

    category: str
    items: int = 0
    addressed: int = 0
    agree: int = 0
    recorded: int = 0

    @property
    def share(self) -> float:
        """Share of items addressed."""
        return self.addressed / self.items if self.items else 0.0


def coverage(rows: Iterable[ItemOutcome]) -> list[CoverageRow]:
    """Per-category coverage (addressed share) and decision agreement among addressed recorded items."""
    table: dict[str, CoverageRow] = defaultdict(lambda: CoverageRow(""))
    for row in rows:
        entry = table[row.service]
        entry.category = row.service
        entry.items += 1
        if row.addressed:
            entry.addressed += 1
            if row.recorded_decision is not None:
                entry.recorded += 1
                entry.agree += row.decision == row.recorded_decision
    return sorted(table.values(), key=lambda r: (-r.items, r.category))
