"""Run many cases and compare with their recorded determinations: coverage and agreement figures."""

from __future__ import annotations

import math
import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imr_rules.cases.model import Case
from imr_rules.cases.reader import case_files_in, read_case
from imr_rules.cases.vocabulary import Vocabulary
from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.common.extras import MissingExtraError
from imr_rules.engine.durable_adapter import EngineError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.results import ItemResult
from imr_rules.intake.files import is_letter, letters_in
from imr_rules.regression.split import Split, split_of


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
    section: str | None = None
    pages: str | None = None
    recorded_section: str | None = None
    recorded_pages: str | None = None
    deciding: str | None = None
    deciding_keys: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``CASE/ITEM``: the item's identity across runs."""
        return f"{self.case_id}/{self.item_id}"

    @property
    def split(self) -> Split:
        """``tune`` or ``check`` (see ``imr_rules.regression.split``)."""
        return split_of(self.case_id)

    @property
    def addressed(self) -> bool:
        """Whether some rule decided the item (Upheld or Overturned)."""
        return self.decision in ("Upheld", "Overturned")

    @property
    def needs_licensed(self) -> bool:
        """Whether only the licensed guideline text could decide it (counted apart: not a decision)."""
        return self.decision == "Needs licensed guideline"

    @property
    def agrees(self) -> bool:
        """Whether the decision equals the recorded one."""
        return self.recorded_decision is not None and self.decision == self.recorded_decision

    @property
    def same_guideline(self) -> bool | None:
        """Same guideline document as recorded (None: not comparable)."""
        if not self.addressed or self.recorded_guideline is None:
            return None
        return self.guideline == self.recorded_guideline

    @property
    def same_place(self) -> bool | None:
        """Same pages (overlapping) or section as recorded, where the record gives them (None: not comparable)."""
        if not self.same_guideline:
            return None
        if self.recorded_pages and self.pages:
            return bool(_pages(self.recorded_pages) & _pages(self.pages))
        if self.recorded_section and self.section:
            return _section_key(self.recorded_section) in _section_key(self.section) or \
                _section_key(self.section) in _section_key(self.recorded_section)
        return None


def _pages(text: str) -> set[int]:
    found: set[int] = set()
    for part in text.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            found |= set(range(int(first), int(last or first) + 1))
    return found


def _section_key(text: str) -> str:
    head = text.split(";")[0].split(", also")[0]
    return " ".join(head.lower().replace("section:", "").split())


def case_files(paths: Iterable[Path]) -> list[Path]:
    """Case files and letters under ``paths``.

    Files are taken as given. Folders are searched for case files (*.yaml, *.yml; example folders and
    names starting with '_' skipped) and for letters (*.txt, *.pdf); when a letter is there both as
    text and as PDF, the text is taken once.
    """
    found: list[Path] = []
    for path in paths:
        found.extend(case_files_in(path))
        if path.is_dir():
            found.extend(letters_in(path))
    return found


@dataclass(frozen=True)
class FileResult:
    """The item outcomes of one case file or letter, or the problems that kept it from being evaluated.

    ``warnings`` holds what letter extraction flagged without stopping (e.g. a request date taken
    from a progress report); they do not fail a run.
    """

    path: Path
    outcomes: list[ItemOutcome]
    problems: list[Diagnostic]
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def extracted(self) -> bool:
        """True when the case was extracted from a letter rather than read from a case file."""
        return is_letter(self.path)


def _read(path: Path, vocabulary: Vocabulary) -> tuple[Case | None, list[Diagnostic], list[Diagnostic]]:
    """The case in ``path`` (a case file, or a letter extracted on the fly), its errors and its warnings."""
    if not is_letter(path):
        try:
            return read_case(path, vocabulary=vocabulary), [], []
        except InputError as exc:
            return None, exc.diagnostics, []
    from imr_rules.intake.extract import extract_letter

    extraction = extract_letter(path)
    errors = [d for d in extraction.problems if d.severity == "error"]
    warnings = [d for d in extraction.problems if d.severity != "error"]
    if extraction.case is None and not errors:
        errors = [Diagnostic(str(path), None, "", "no case could be extracted", "run imr-rules extract on it")]
    return extraction.case, errors, warnings


def evaluate_files(files: Iterable[Path], evaluator: Evaluator) -> Iterator[FileResult]:
    """Evaluate each case file or letter in turn; one that gives no valid case yields its problems instead.

    Nothing a file holds stops the run: a file that fails in any way (even inside the engine) is reported
    as that file's problem and the next file is evaluated.
    """
    for path in files:
        yield evaluate_file(path, evaluator)


def evaluate_file(path: Path, evaluator: Evaluator) -> FileResult:
    """The outcomes of one case file or letter, or the problems that kept it from being evaluated."""
    try:
        case, errors, warnings = _read(path, evaluator.compiled.rule_base.vocabulary)
        if case is None:
            return FileResult(path, [], errors, tuple(warnings))
        return FileResult(path, outcomes(case, evaluator), errors, tuple(warnings))
    except EngineError as exc:
        return FileResult(path, [], [_failure(path, f"engine error: {exc}")])
    except (RecursionError, MemoryError) as exc:
        return FileResult(path, [], [_failure(path, f"too large to evaluate ({type(exc).__name__})")])
    except MissingExtraError:
        raise  # not this file's fault: the command stops and names the extra to install
    except Exception as exc:  # reported as this file's problem; the run goes on
        return FileResult(path, [], [_failure(path, f"internal error: {type(exc).__name__}: {exc}")])


def read_problems(path: Path) -> list[Diagnostic]:
    """Every problem of one case file (empty: valid); a failure of any kind is reported as its problem."""
    try:
        read_case(path)
    except InputError as exc:
        return exc.diagnostics
    except (RecursionError, MemoryError) as exc:
        return [_failure(path, f"too large to read ({type(exc).__name__})")]
    except Exception as exc:  # reported as this file's problem; the other files are checked
        return [_failure(path, f"internal error: {type(exc).__name__}: {exc}")]
    return []


def _failure(path: Path, message: str) -> Diagnostic:
    return Diagnostic(display_path(path), None, "", message, "the other files are evaluated; report this file")


def outcomes(case: Case, evaluator: Evaluator) -> list[ItemOutcome]:
    """The outcome of each item of ``case`` beside its recorded determination."""
    recorded = {r.item: r for r in case.recorded.items} if case.recorded else {}
    result = evaluator.evaluate(case)
    rows = []
    for item in result.items:
        rec = recorded.get(item.item_id)
        citation = item.citation
        rows.append(ItemOutcome(
            case.case_id, item.item_id, item.service, item.decision, item.basis, item.rule,
            citation.guideline_id if citation else None, rec.decision if rec else None, rec.guideline if rec else None,
            citation.section if citation else None, citation.pages if citation else None,
            rec.section if rec else None, rec.pages if rec else None, _deciding(item), _deciding_keys(item)))
    return rows


def _deciding_keys(item: ItemResult) -> tuple[str, ...]:
    """Every criterion (any depth) whose state is the item's basis: the criteria that decided it."""
    if item.basis is None:
        return ()
    return tuple(criterion.key for criterion in item.criteria if criterion.state == item.basis)


def _deciding(item: ItemResult) -> str | None:
    """The criterion that decided an item: the first top-level criterion in the item's outcome state."""
    if item.basis is None:
        return None
    if item.basis == "met":
        return "all criteria met"
    for criterion in item.criteria:
        if criterion.depth == 0 and criterion.state == item.basis:
            return f"{criterion.key} ({criterion.state.replace('_', ' ')})"
    return None


def coverage(rows: Iterable[ItemOutcome]) -> list[CategoryRow]:
    """Per-category coverage (addressed share) and decision agreement, over every item given."""
    return category_rows(rows)


@dataclass
class BinaryCounts:
    """Counts of Overturned (positive) against Upheld among items a rule decided."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, recorded: str, predicted: str) -> None:
        """Count one decided item."""
        if recorded == "Overturned":
            if predicted == "Overturned":
                self.tp += 1
            else:
                self.fn += 1
        elif predicted == "Overturned":
            self.fp += 1
        else:
            self.tn += 1

    @staticmethod
    def _ratio(top: int, bottom: int) -> float | None:
        return top / bottom if bottom else None

    @property
    def recall(self) -> float | None:
        """Overturned recall (sensitivity)."""
        return self._ratio(self.tp, self.tp + self.fn)

    @property
    def precision(self) -> float | None:
        """Overturned precision."""
        return self._ratio(self.tp, self.tp + self.fp)

    @property
    def specificity(self) -> float | None:
        """Upheld recall."""
        return self._ratio(self.tn, self.tn + self.fp)

    @property
    def balanced_accuracy(self) -> float | None:
        """Mean of Overturned and Upheld recall."""
        if self.recall is None or self.specificity is None:
            return None
        return (self.recall + self.specificity) / 2

    @property
    def mcc(self) -> float | None:
        """Matthews correlation coefficient."""
        tp, tn, fp, fn = self.tp, self.tn, self.fp, self.fn
        denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return (tp * tn - fp * fn) / denominator if denominator else None


@dataclass
class CategoryRow:
    """Coverage and regression figures for one service category."""

    category: str
    items: int = 0
    addressed: int = 0
    recorded: int = 0
    agree: int = 0
    overturned: int = 0
    overturned_found: int = 0
    needs_licensed: int = 0

    @property
    def share(self) -> float:
        """Share of items addressed."""
        return self.addressed / self.items if self.items else 0.0


def category_rows(rows: Iterable[ItemOutcome]) -> list[CategoryRow]:
    """Items, addressed, agreement and Overturned items found, per service category (largest first)."""
    categories: dict[str, CategoryRow] = {}
    for row in rows:
        category = categories.setdefault(row.service, CategoryRow(row.service))
        category.items += 1
        category.overturned += row.recorded_decision == "Overturned"
        category.needs_licensed += row.needs_licensed
        if row.addressed:
            category.addressed += 1
            if row.recorded_decision is not None:
                category.recorded += 1
                category.agree += row.agrees
                category.overturned_found += row.agrees and row.decision == "Overturned"
    return sorted(categories.values(), key=lambda c: (-c.items, c.category))


@dataclass
class Metrics:
    """Every regression figure over the items that have a recorded determination."""

    items: int
    addressed: int
    agree: int
    confusion: dict[tuple[str, str], int]
    binary: BinaryCounts
    guideline_compared: int
    guideline_agree: int
    place_compared: int
    place_agree: int
    categories: list[CategoryRow]
    overturned_total: int
    needs_licensed: int = 0

    @property
    def coverage(self) -> float:
        """Share of recorded items some rule decided."""
        return self.addressed / self.items if self.items else 0.0

    @property
    def agreement(self) -> float:
        """Decision agreement over every recorded item ('Not addressed' counts as disagreement)."""
        return self.agree / self.items if self.items else 0.0

    @property
    def agreement_addressed(self) -> float | None:
        """Decision agreement over the items a rule decided."""
        return self.agree / self.addressed if self.addressed else None

    @property
    def guideline_agreement(self) -> float | None:
        """Same guideline document as recorded, over decided items with a recorded guideline."""
        return self.guideline_agree / self.guideline_compared if self.guideline_compared else None

    @property
    def place_agreement(self) -> float | None:
        """Same pages or section, over items with the same guideline where the record gives pages or section."""
        return self.place_agree / self.place_compared if self.place_compared else None

    @property
    def overturned_recall_all(self) -> float | None:
        """Overturned recall counting recorded Overturned items no rule decided as missed."""
        return self.binary.tp / self.overturned_total if self.overturned_total else None


def compute_metrics(rows: Iterable[ItemOutcome]) -> Metrics:
    """The regression figures of the items that have a recorded decision."""
    recorded = [r for r in rows if r.recorded_decision is not None]
    confusion: dict[tuple[str, str], int] = defaultdict(int)
    binary = BinaryCounts()
    for row in recorded:
        assert row.recorded_decision is not None
        confusion[(row.recorded_decision, row.decision)] += 1
        if row.addressed:
            binary.add(row.recorded_decision, row.decision)
    same_guideline = [r.same_guideline for r in recorded if r.same_guideline is not None]
    same_place = [r.same_place for r in recorded if r.same_place is not None]
    return Metrics(
        items=len(recorded), addressed=sum(r.addressed for r in recorded), agree=sum(r.agrees for r in recorded),
        confusion=dict(confusion), binary=binary, guideline_compared=len(same_guideline),
        guideline_agree=sum(same_guideline), place_compared=len(same_place), place_agree=sum(same_place),
        categories=category_rows(recorded),
        overturned_total=sum(r.recorded_decision == "Overturned" for r in recorded),
        needs_licensed=sum(r.needs_licensed for r in recorded))


def metrics_by_split(rows: Iterable[ItemOutcome]) -> dict[str, Metrics]:
    """The figures over all items, over the tune items and over the check items."""
    every = list(rows)
    return {"all": compute_metrics(every), "tune": compute_metrics(r for r in every if r.split == "tune"),
            "check": compute_metrics(r for r in every if r.split == "check")}


# ---- baselines ---------------------------------------------------------------------------------------------------
BASELINE_VERSION = 1


def baseline_of(rows: Iterable[ItemOutcome], rule_base_version: str) -> dict[str, Any]:
    """A baseline: what every item came out as, to compare a later run with."""
    return {"baseline_version": BASELINE_VERSION, "rule_base_version": rule_base_version,
            "items": {r.key: {"decision": r.decision, "basis": r.basis, "rule": r.rule, "guideline": r.guideline}
                      for r in rows}}


@dataclass(frozen=True)
class Flip:
    """An item whose decision or guideline changed since the baseline."""

    key: str
    before: dict[str, Any]
    after: dict[str, Any]
    accepted_reason: str | None

    @property
    def what(self) -> str:
        """What changed, in words."""
        changes = [f"{field} {self.before.get(field)} -> {self.after.get(field)}"
                   for field in ("decision", "guideline") if self.before.get(field) != self.after.get(field)]
        return "; ".join(changes)

    @property
    def responsible(self) -> str:
        """The rule(s) responsible: the rule deciding now and, if different, the one deciding before."""
        now, then = self.after.get("rule"), self.before.get("rule")
        return str(now) if now == then else f"{then} -> {now}"


def compare_baseline(rows: Iterable[ItemOutcome], baseline: dict[str, Any],
                     accepted: dict[str, str]) -> tuple[list[Flip], list[str]]:
    """Flips since ``baseline`` (accepted ones carry their reason), and item keys new since the baseline."""
    before_items: dict[str, dict[str, Any]] = baseline.get("items", {})
    flips: list[Flip] = []
    new: list[str] = []
    for row in rows:
        after = {"decision": row.decision, "basis": row.basis, "rule": row.rule, "guideline": row.guideline}
        before = before_items.get(row.key)
        if before is None:
            new.append(row.key)
        elif before.get("decision") != after["decision"] or before.get("guideline") != after["guideline"]:
            flips.append(Flip(row.key, before, after, accepted.get(row.key)))
    return flips, new


# ---- running many files, in one or several processes -------------------------------------------------------------
_WORKER: Evaluator | None = None


def _init_worker(rules_dir: str | None) -> None:
    global _WORKER
    from imr_rules.engine.knowledge_base import evaluator  # a fresh engine in each worker process

    _WORKER = evaluator(Path(rules_dir) if rules_dir else None)


def _evaluate_one(path: Path) -> FileResult:
    assert _WORKER is not None
    return evaluate_file(path, _WORKER)


def run_files(files: list[Path], rules_dir: Path | None, jobs: int,
              progress: Callable[[int, int], None] | None = None) -> list[FileResult]:
    """Evaluate ``files`` over ``jobs`` processes; results come back in file order, whatever ``jobs`` is."""
    results: list[FileResult] = []
    if jobs <= 1:
        from imr_rules.engine.knowledge_base import evaluator

        engine = evaluator(rules_dir)
        for result in evaluate_files(files, engine):
            results.append(result)
            if progress:
                progress(len(results), len(files))
        return results
    context = multiprocessing.get_context("spawn")
    chunk = max(1, min(32, len(files) // (jobs * 4) or 1))
    with context.Pool(jobs, initializer=_init_worker, initargs=(str(rules_dir) if rules_dir else None,)) as pool:
        for result in pool.imap(_evaluate_one, files, chunksize=chunk):
            results.append(result)
            if progress:
                progress(len(results), len(files))
    return results
