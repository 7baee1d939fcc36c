"""Extraction measured against the hand-made cases: per-field precision and recall, end to end, and speed.

The hand-made historical cases (``cases/historical``, format 2) were encoded from the same letters'
summaries, so they are the reference for every field a case holds. Each field is reduced to a set of
comparable facts per case (e.g. the drug classes in use, or (concept, status) pairs); a fact in both
counts as a true positive, one only extracted as a false positive, one only in the hand-made case as a
false negative. Findings match when they have the same status and one concept is the other or a kind
of it (a McMurray test matches a meniscal provocative test); their region is not compared. The
hand-made cases are one encoder's reading, not a gold standard: a false positive may be a fact the
encoder left out.

The figures are given per split (``imr_rules.regression.split``): extraction is improved looking at
*tune* letters only; *check* letters measure it.

Usage: python -m tools.extraction_vs_cases [--letters DIR] [--cases DIR] [--split tune|check|all]...
       [--no-end-to-end] [--no-speed] [--tune-differences] [--tune-findings]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from imr_rules.cases.model import Case, Clinical, TreatmentCourse
from imr_rules.cases.reader import read_case
from imr_rules.cases.vocabulary import Vocabulary, vocabulary_of
from imr_rules.common.diagnostics import InputError
from imr_rules.intake.extract import Extraction, extract_letter
from imr_rules.regression.runner import ItemOutcome, Metrics, compute_metrics, outcomes
from imr_rules.regression.split import split_of
from tools.extraction_quality import Tally

ROOT = Path(__file__).resolve().parents[1]
LETTERS = ROOT.parent / "shared" / "letters" / "dev"
HAND_MADE = ROOT / "cases" / "historical"

Facts = set[Hashable]


@lru_cache(maxsize=1)
def _vocabulary() -> Vocabulary:
    return vocabulary_of()


def _concepts_in(file_stem: str) -> frozenset[str]:
    """The concept ids defined in ``rules/vocabulary/concepts/<file_stem>.yaml``."""
    vocabulary = _vocabulary()
    return frozenset(term_id for term_id in vocabulary.ids("concepts")
                     if Path(vocabulary.term("concepts", term_id).where.split(":")[0]).stem == file_stem)


def _below(*roots: str) -> frozenset[str]:
    vocabulary = _vocabulary()
    return frozenset(c for root in roots for c in vocabulary.concepts_down(root))


@lru_cache(maxsize=1)
def concept_groups() -> dict[str, frozenset[str]]:
    """The concept groups findings are scored by (a concept may fall in no group: it is scored under 'other')."""
    mechanical = _below("internal_derangement_sign") | frozenset(
        c for c in _concepts_in("examination") | _concepts_in("joints") if c.endswith(("_test", "_sign")))
    return {
        "neurologic": _concepts_in("neurologic") - {"neuropathic_pain"},
        "red flags": _below("red_flag"),
        "mechanical/provocative signs": mechanical - _below("red_flag"),
        "muscle spasm": frozenset({"muscle_spasm"}),
        "functional deficits": _below("functional_deficit"),
    }


def _finding_facts(clinical: Clinical, concepts: frozenset[str]) -> Facts | None:
    found: Facts = {(f.concept, f.status) for f in clinical.findings if f.concept in concepts}
    return found or None


def _other_findings(clinical: Clinical) -> Facts | None:
    grouped = frozenset().union(*concept_groups().values())
    found: Facts = {(f.concept, f.status) for f in clinical.findings if f.concept not in grouped}
    return found or None


def _medication_classes(case: Case) -> Facts | None:
    medications = case.clinical.medications
    return None if medications is None else {m.drug_class for m in medications if m.drug_class is not None}


def _courses(case: Case) -> list[TreatmentCourse] | None:
    return None if case.clinical.treatment is None else case.clinical.treatment.courses


def _treatment(case: Case) -> Facts | None:
    courses = _courses(case)
    return None if courses is None else {(c.modality, c.region) for c in courses}


def _treatment_modalities(case: Case) -> Facts | None:
    courses = _courses(case)
    return None if courses is None else {c.modality for c in courses}


def _history_complete(case: Case) -> Facts | None:
    treatment = case.clinical.treatment
    return {"complete"} if treatment is not None and treatment.history_complete else None


def _visits_completed(case: Case) -> Facts | None:
    courses = _courses(case)
    return None if courses is None else {(c.modality, c.visits_completed) for c in courses
                                         if c.visits_completed is not None}


def _visits_authorized(case: Case) -> Facts | None:
    courses = _courses(case)
    found: Facts = set() if courses is None else {(c.modality, c.visits_authorized) for c in courses
                                                  if c.visits_authorized is not None}
    found |= {(i.service, i.certified.visits) for i in case.requested_items
              if i.certified is not None and i.certified.visits is not None}
    return found or None


def _function_response(case: Case) -> Facts | None:
    """Functional improvement documented (or documented as missing) from a treatment course or a medication."""
    found: Facts = {(c.modality, c.function_response) for c in _courses(case) or [] if c.function_response}
    found |= {(m.drug_class, m.function_response) for m in case.clinical.medications or []
              if m.function_response and m.drug_class}
    activity = case.clinical.opioid_monitoring.activity_improvement_documented
    if activity is not None:
        found.add(("opioid_monitoring", activity))
    return found or None


def _conservative(case: Case) -> Facts | None:
    care = case.clinical.conservative_care
    found: Facts = {(name, value) for name, value in (("failed", care.failed),
                                                      ("home_exercise_program", care.home_exercise_program))
                    if value is not None}
    return found or None


def _surgeries(case: Case) -> Facts | None:
    surgeries = case.clinical.surgeries
    return None if surgeries is None else {(s.region, s.procedure) for s in surgeries}


def _studies(case: Case) -> Facts | None:
    clinical = case.clinical
    if clinical.imaging is None and clinical.electrodiagnostics is None:
        return None
    found: Facts = {(s.kind, s.region) for s in clinical.imaging or []}
    return found | {("edx", s.region) for s in clinical.electrodiagnostics or []}


def _diagnoses(case: Case) -> Facts | None:
    return {(d.category, d.region) for d in case.diagnoses} or None


def _diagnosis_status(case: Case) -> Facts | None:
    return {(d.region, d.status) for d in case.diagnoses if d.status != "confirmed"} or None


def _icd10(case: Case) -> Facts | None:
    return {d.icd10.replace(".", "") for d in case.diagnoses if d.icd10} or None


def _item_routing(case: Case) -> Facts | None:
    return {(i.service, i.regions[0]) for i in case.requested_items}


def _item_amounts(case: Case) -> Facts | None:
    found: Facts = set()
    for item in case.requested_items:
        for name in ("visits", "frequency_per_week", "duration_weeks", "refills"):
            value = getattr(item, name)
            if value is not None:
                found.add((item.service, name, value))
        if item.quantity is not None:
            found.add((item.service, "quantity", item.quantity.amount, item.quantity.unit))
    return found or None


def _item_details(case: Case) -> Facts | None:
    found: Facts = set()
    for item in case.requested_items:
        for name in ("formulation", "test_kind", "side"):
            value = getattr(item, name)
            if value is not None:
                found.add((item.service, name, value))
        if item.ancillary_to is not None:
            found.add((item.service, "ancillary"))
        if item.retrospective:
            found.add((item.service, "retrospective"))
    return found or None


def _scalar(getter: Callable[[Clinical], object]) -> Callable[[Case], Facts | None]:
    def facts(case: Case) -> Facts | None:
        value = getter(case.clinical)
        return None if value is None else {value}
    return facts


def _group(concepts: frozenset[str] | None) -> Callable[[Case], Facts | None]:
    def facts(case: Case) -> Facts | None:
        return _other_findings(case.clinical) if concepts is None else _finding_facts(case.clinical, concepts)
    return facts


def _fields() -> dict[str, Callable[[Case], Facts | None]]:
    groups = concept_groups()
    found: dict[str, Callable[[Case], Facts | None]] = {
        "neurologic findings": _group(groups["neurologic"]),
        "red flags": _group(groups["red flags"]),
        "mechanical/provocative signs": _group(groups["mechanical/provocative signs"]),
        "muscle spasm": _group(groups["muscle spasm"]),
        "functional deficits": _group(groups["functional deficits"]),
        "other findings": _group(None),
        "functional improvement (course, medication)": _function_response,
        "conservative care (failed, home exercise)": _conservative,
        "diagnoses (category, region)": _diagnoses,
        "diagnoses not confirmed (region, status)": _diagnosis_status,
        "diagnoses ICD-10": _icd10,
        "treatment history (modality, region)": _treatment,
        "treatment history (modality)": _treatment_modalities,
        "treatment history complete": _history_complete,
        "prior visits completed (modality, count)": _visits_completed,
        "visits certified by UR (modality, count)": _visits_authorized,
        "medications (drug classes in use)": _medication_classes,
        "surgeries (region, procedure)": _surgeries,
        "imaging and electrodiagnostics (kind, region)": _studies,
        "opioid monitoring": lambda c: {(k, v) for k, v in vars(c.clinical.opioid_monitoring).items()
                                        if v in ("present", "absent")} or None,
        "surgery planned": _scalar(lambda c: c.surgery_planned),
        "work status": _scalar(lambda c: c.work_status),
        "pain score": _scalar(lambda c: None if c.pain_score is None else round(c.pain_score)),
        "items (service, first region)": _item_routing,
        "items (visits, frequency, duration, quantity)": _item_amounts,
        "items (formulation, test kind, side, ancillary, retrospective)": _item_details,
    }
    return found


FINDING_FIELDS = ("neurologic findings", "red flags", "mechanical/provocative signs", "muscle spasm",
                  "functional deficits")
"""The finding groups the rules read; their sum is the 'findings the rules read' row."""
READ_FINDINGS = "findings the rules read (groups above)"


def _related(a: Hashable, b: Hashable) -> bool:
    """Two (concept, status) facts match when the statuses agree and one concept is a kind of the other."""
    if not (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == 2 and len(b) == 2):
        return a == b
    if a[1] != b[1]:
        return False
    vocabulary = _vocabulary()
    if not (vocabulary.has("concepts", str(a[0])) and vocabulary.has("concepts", str(b[0]))):
        return a == b
    return a[0] in vocabulary.concepts_up(str(b[0])) or b[0] in vocabulary.concepts_up(str(a[0]))


def _count(tally: Tally, ours: Facts, theirs: Facts, lenient: bool) -> None:
    if lenient:
        tally.tp += sum(1 for fact in theirs if any(_related(fact, mine) for mine in ours))
        tally.fn += sum(1 for fact in theirs if not any(_related(fact, mine) for mine in ours))
        tally.fp += sum(1 for mine in ours if not any(_related(fact, mine) for fact in theirs))
    else:
        tally.tp += len(ours & theirs)
        tally.fp += len(ours - theirs)
        tally.fn += len(theirs - ours)
    tally.gold += len(theirs)


def score_pair(tallies: dict[str, Tally], extracted: Case, hand_made: Case) -> None:
    """Add one letter's comparison to ``tallies`` (one per field; a field neither case documents is skipped)."""
    for name, facts in _fields().items():
        ours, theirs = facts(extracted), facts(hand_made)
        if ours is None and theirs is None:
            continue
        lenient = name in FINDING_FIELDS or name == "other findings"
        _count(tallies.setdefault(name, Tally()), ours or set(), theirs or set(), lenient)
        if name in FINDING_FIELDS:
            _count(tallies.setdefault(READ_FINDINGS, Tally()), ours or set(), theirs or set(), True)


@dataclass
class Comparison:
    """Per-field tallies and end-to-end outcomes of one split's letters, extracted beside hand-made."""

    tallies: dict[str, Tally] = field(default_factory=dict)
    letters: int = 0
    no_case: list[str] = field(default_factory=list)
    extracted_rows: list[ItemOutcome] = field(default_factory=list)
    hand_made_rows: list[ItemOutcome] = field(default_factory=list)


def compare(letters: Iterable[Path], cases_dir: Path,
            extract: Callable[[Path], Extraction] = extract_letter) -> tuple[dict[str, Tally], int]:
    """Extract each letter that has a hand-made case of the same name in ``cases_dir``; tallies and letters compared.

    ``extract`` is the extraction to measure (the quality script passes a cached one, so that letters
    are extracted once for both measurements).
    """
    result = compare_splits(letters, cases_dir, extract, end_to_end=False)
    tallies: dict[str, Tally] = {}
    for comparison in result.values():
        for name, tally in comparison.tallies.items():
            total = tallies.setdefault(name, Tally())
            total.tp, total.fp, total.fn = total.tp + tally.tp, total.fp + tally.fp, total.fn + tally.fn
            total.gold += tally.gold
    return tallies, sum(c.letters for c in result.values())


def compare_splits(letters: Iterable[Path], cases_dir: Path,
                   extract: Callable[[Path], Extraction] = extract_letter,
                   end_to_end: bool = True) -> dict[str, Comparison]:
    """Compare every letter with its hand-made case, per split; with ``end_to_end`` also evaluate both."""
    from imr_rules.engine.knowledge_base import evaluator

    engine = evaluator() if end_to_end else None
    result: dict[str, Comparison] = {}
    for letter in letters:
        hand_path = cases_dir / f"{letter.stem}.yaml"
        if not hand_path.is_file():
            continue
        try:
            hand_made = read_case(hand_path)
        except InputError:
            continue
        comparison = result.setdefault(split_of(hand_made.case_id), Comparison())
        comparison.letters += 1
        extraction = extract(letter)
        if engine is not None:
            comparison.hand_made_rows += outcomes(hand_made, engine)
        if extraction.case is None:
            comparison.no_case.append(letter.name)
            continue
        score_pair(comparison.tallies, extraction.case, hand_made)
        if engine is not None:
            comparison.extracted_rows += _recorded_as(outcomes(extraction.case, engine), hand_made)
    return result


def _recorded_as(rows: list[ItemOutcome], hand_made: Case) -> list[ItemOutcome]:
    """The extracted case's outcomes under the hand-made case's id (the split goes by it)."""
    from dataclasses import replace

    return [replace(row, case_id=hand_made.case_id) for row in rows]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_markdown(tallies: dict[str, Tally], compared: int) -> str:
    """One comparison as a Markdown table."""
    lines = [f"Compared on {compared} letters with a hand-made case.", "",
             "| field | in hand-made cases | TP | FP | FN | precision | recall |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {name} | {t.gold} | {t.tp} | {t.fp} | {t.fn} | {_ratio(t.precision)} | {_ratio(t.recall)} |"
              for name, t in _ordered(tallies)]
    return "\n".join(lines)


def _ordered(tallies: dict[str, Tally]) -> list[tuple[str, Tally]]:
    order = list(_fields())
    order.insert(len(FINDING_FIELDS), READ_FINDINGS)
    return [(name, tallies[name]) for name in order if name in tallies]


def render_splits(result: dict[str, Comparison]) -> str:
    """Per-field precision and recall, tune and check side by side."""
    splits = [s for s in ("tune", "check") if s in result]
    head = "| field | " + " | ".join(f"{s}: hand-made | {s}: P | {s}: R" for s in splits) + " |"
    lines = [head, "|---|" + "---:|---:|---:|" * len(splits)]
    names = [name for name, _ in _ordered({n: t for c in result.values() for n, t in c.tallies.items()})]
    for name in names:
        cells = []
        for split in splits:
            tally = result[split].tallies.get(name, Tally())
            cells.append(f"{tally.gold} | {_ratio(tally.precision)} | {_ratio(tally.recall)}")
        bold = "**" if name == READ_FINDINGS else ""
        lines.append(f"| {bold}{name}{bold} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct(top: int, bottom: int) -> str:
    return f"{top / bottom:.1%} ({top}/{bottom})" if bottom else "-"


def _metric_rows(metrics: Metrics) -> list[tuple[str, str]]:
    binary = metrics.binary
    return [
        ("items", str(metrics.items)),
        ("coverage (items a rule decided)", _pct(metrics.addressed, metrics.items)),
        ("decision agreement, all items", _pct(metrics.agree, metrics.items)),
        ("Overturned recall", _pct(binary.tp, binary.tp + binary.fn)),
        ("Overturned precision", _pct(binary.tp, binary.tp + binary.fp)),
        ("balanced accuracy", "-" if binary.balanced_accuracy is None else f"{binary.balanced_accuracy:.1%}"),
        ("Matthews correlation", "-" if binary.mcc is None else f"{binary.mcc:.3f}"),
    ]


def render_end_to_end(result: dict[str, Comparison]) -> str:
    """Evaluation of the extracted cases beside the hand-made cases of the same letters, per split."""
    splits = [s for s in ("tune", "check") if s in result]
    columns = [(s, kind) for s in splits for kind in ("hand-made", "extracted")]
    table = {(s, kind): _metric_rows(compute_metrics(result[s].hand_made_rows if kind == "hand-made"
                                                     else result[s].extracted_rows)) for s, kind in columns}
    lines = ["| figure | " + " | ".join(f"{s}: {kind}" for s, kind in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    labels = [label for label, _ in table[columns[0]]] if columns else []
    for index, label in enumerate(labels):
        lines.append(f"| {label} | " + " | ".join(table[c][index][1] for c in columns) + " |")
    missing = sorted(name for s in splits for name in result[s].no_case)
    if missing:
        lines += ["", f"No case extracted from {len(missing)} letter(s): {', '.join(missing)}."]
    return "\n".join(lines)


def tune_differences(result: dict[str, Comparison]) -> str:
    """Tune items decided differently from the extracted and the hand-made case (check items are never listed)."""
    comparison = result.get("tune")
    if comparison is None:
        return "no tune letters"
    hand = {row.key: row for row in comparison.hand_made_rows}
    lines = []
    for row in comparison.extracted_rows:
        other = hand.get(row.key)
        if other is not None and other.decision != row.decision:
            lines.append(f"{row.key} ({row.service}, recorded {row.recorded_decision}): hand-made {other.decision} "
                         f"[{other.deciding}], extracted {row.decision} [{row.deciding}]")
    return "\n".join(lines) or "none"


def _finding_lines(case_file: Path, concept: str) -> list[str]:
    """The hand-made case file's lines that record a finding of ``concept`` (with the encoder's comment)."""
    return [" ".join(line.split()) for line in case_file.read_text(encoding="utf-8").splitlines()
            if f"concept: {concept}," in line]


def _extracted_sentences(extraction: Extraction, index: int) -> str:
    """The text of the letter a finding was read from (its provenance span, widened to the sentence)."""
    case = extraction.case
    text = extraction.letter.text if extraction.letter is not None else ""
    if case is None or not case.provenance:
        return ""
    for entry in case.provenance:
        if entry.field == f"clinical.findings[{index}]":
            first = text.rfind(". ", 0, entry.start) + 1
            last = text.find(". ", entry.end)
            return " ".join(text[first:last if last > 0 else len(text)].split())
    return ""


def tune_finding_differences(letters: Iterable[Path], cases_dir: Path,
                             extract: Callable[[Path], Extraction] = extract_letter) -> str:
    """Per tune letter, the findings of the groups the rules read that only one side has.

    A missed finding is shown with the hand-made case's line (and its comment); an extra one with the
    sentence it was read from. Check letters are never listed: extraction is changed looking at tune only.
    """
    read = frozenset().union(*concept_groups().values())
    lines: list[str] = []
    for letter in letters:
        hand_path = cases_dir / f"{letter.stem}.yaml"
        if not hand_path.is_file():
            continue
        hand_made = read_case(hand_path)
        if split_of(hand_made.case_id) != "tune":
            continue
        extraction = extract(letter)
        if extraction.case is None:
            continue
        ours = [(i, (f.concept, f.status)) for i, f in enumerate(extraction.case.clinical.findings)
                if f.concept in read]
        theirs = {(f.concept, f.status) for f in hand_made.clinical.findings if f.concept in read}
        missed = sorted(fact for fact in theirs if not any(_related(fact, mine) for _, mine in ours))
        extra = [(i, mine) for i, mine in ours if not any(_related(fact, mine) for fact in theirs)]
        if not missed and not extra:
            continue
        lines.append(f"== {letter.stem}")
        for concept, status in missed:
            lines += [f"  MISSED {concept} {status}: {line}" for line in _finding_lines(hand_path, concept)][:3]
        for index, (concept, status) in extra:
            lines.append(f"  EXTRA {concept} {status}: {_extracted_sentences(extraction, index)[:400]}")
    return "\n".join(lines) or "none"


def measure_speed(letters: list[Path], runs: int = 3) -> str:
    """Letters per second extracting from text (pipeline built once, warm) and reading the PDFs alone."""
    from imr_rules.intake.letters import read_text

    texts = [p for p in letters if p.suffix == ".txt"]
    pdfs = [p.with_suffix(".pdf") for p in texts if p.with_suffix(".pdf").is_file()]
    if not texts:
        return "no text letters to time"
    extract_letter(texts[0])  # builds the pipeline once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for path in texts:
            extract_letter(path)
        times.append(time.perf_counter() - start)
    text_rate = len(texts) / statistics.median(times)
    line = f"extraction from text: {text_rate:.1f} letters/s ({len(texts)} letters, median of {runs} runs, one process)"
    if pdfs:
        start = time.perf_counter()
        for path in pdfs:
            read_text(path, [])
        pdf_rate = len(pdfs) / (time.perf_counter() - start)
        line += f"; PDF text reading alone: {pdf_rate:.1f} letters/s ({len(pdfs)} PDFs)"
    return line


def main(argv: list[str] | None = None) -> int:
    """Print the per-field table (tune and check), end-to-end figures and extraction speed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=Path, default=LETTERS, help="folder of the letters (.txt read)")
    parser.add_argument("--cases", type=Path, default=HAND_MADE, help="folder of the hand-made cases")
    parser.add_argument("--pdf", action="store_true", help="read the .pdf letters instead of the .txt")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip evaluating the cases")
    parser.add_argument("--no-speed", action="store_true", help="skip timing extraction")
    parser.add_argument("--tune-differences", action="store_true",
                        help="list tune items the extracted and hand-made cases decide differently")
    parser.add_argument("--tune-findings", action="store_true",
                        help="list, per tune letter, the findings the rules read that only one side has")
    args = parser.parse_args(argv)
    if not args.letters.is_dir() or not args.cases.is_dir():
        print(f"error: need {args.letters} and {args.cases}", file=sys.stderr)
        return 2
    letters = sorted(args.letters.glob("*.pdf" if args.pdf else "*.txt"))
    cache: dict[Path, Extraction] = {}

    def extract(path: Path) -> Extraction:
        if path not in cache:
            cache[path] = extract_letter(path)
        return cache[path]

    result = compare_splits(letters, args.cases, extract, end_to_end=not args.no_end_to_end)
    counts = ", ".join(f"{split} {result[split].letters}" for split in ("tune", "check") if split in result)
    print(f"Extraction against the hand-made cases, {dt.date.today().isoformat()} ({counts} letters)\n")
    print(render_splits(result))
    if not args.no_end_to_end:
        print("\nEnd to end (the same rule base on both):\n")
        print(render_end_to_end(result))
        if args.tune_differences:
            print("\nTune items decided differently (extracted vs hand-made):\n" + tune_differences(result))
    if args.tune_findings:
        print("\nTune findings only one side has (groups the rules read):\n"
              + tune_finding_differences(letters, args.cases, extract))
    if not args.no_speed:
        print("\n" + measure_speed(letters))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
