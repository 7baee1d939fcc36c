"""Benchmark imr-rules (a script, not a timed test).

Measures, as the median of several runs:
  * regress: cases per second through the whole pipeline (read YAML, validate, evaluate, explain) over a
    synthetic corpus of generated case files, with 1 and 2 processes;
  * evaluate: cases per second of evaluation alone on already-validated cases, with durable_rules and with
    the plain-Python reference engine (the same compiled rulesets);
  * matching: rule matching alone (assert the projected facts, run the rule actions that chain derived
    facts, end the session) on the same items, with each engine: the engine's floor;
  * cold start: wall time of `imr-rules evaluate` on one case, in a fresh process (bytecode compiled);
  * extraction (``--extraction``): letters per second read by `imr-rules extract` from their text, in one
    process with the pipeline built once, and PDF text reading alone (reported separately).

Usage: python scripts/benchmark.py [--cases 10000] [--runs 3] [--cold-start-only] [--extraction [--letters DIR]]
"""

from __future__ import annotations

import argparse
import compileall
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tools/ lives there

import yaml

from imr_rules.cases.facts import project_item
from imr_rules.cases.model import Case
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge_base import evaluator, reference_evaluator
from imr_rules.engine.session import ActionRunner, ItemSession, session_facts
from imr_rules.regression.runner import case_files, run_files
from tools.synthetic import synthetic_case

ROOT = Path(__file__).resolve().parents[1]
def _median_rate(runs: list[float], count: int) -> tuple[float, float]:
    seconds = statistics.median(runs)
    return count / seconds, seconds


def bench_regress(files: list[Path], jobs: int, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run_files(files, None, jobs)
        times.append(time.perf_counter() - start)
    return _median_rate(times, len(files))


def bench_evaluate(engine: Evaluator, cases: list[Case], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for case in cases:
            engine.evaluate(case)
        times.append(time.perf_counter() - start)
    return _median_rate(times, len(cases))


def bench_matching(engine: Evaluator, cases: list[Case], runs: int) -> tuple[float, float]:
    """Matching alone: pre-projected facts in, chaining actions only, no explanation."""
    prepared = []
    for case in cases:
        for item in case.requested_items:
            ruleset = engine.knowledge_base.ruleset_for(item.service, item.body_region, case.item_request_date(item))
            if ruleset is not None:
                facts = project_item(case, item, ruleset.base_facts, {}, engine.compiled.rule_base.vocabulary)
                prepared.append((ruleset, item, session_facts(engine.compiled, ItemSession(item), facts)))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for ruleset, item, facts in prepared:
            ActionRunner(engine.compiled, ruleset, ItemSession(item)).run(engine.engine, facts)
        times.append(time.perf_counter() - start)
    return _median_rate(times, len(cases))


def bench_cold_start(runs: int) -> float:
    """Median wall time of `imr-rules evaluate` on one case in a fresh process.

    The package's bytecode is compiled first, as ``pip install`` does (PYTHONDONTWRITEBYTECODE, set on
    some machines, would otherwise make every run compile the modules from source).
    """
    compileall.compile_dir(str(ROOT / "engine" / "imr_rules"), quiet=1)
    command = [str(Path(sys.executable).with_name("imr-rules")), "evaluate",
               str(ROOT / "cases" / "seeds" / "seed-000-cervical-fusion.yaml")]
    times = []
    for _ in range(max(runs, 5)):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _print_cold_start(runs: int) -> None:
    print(f"cold start, imr-rules evaluate on one case: {bench_cold_start(runs):.3f} s (median wall time)")


def bench_extraction(letters: Path, runs: int) -> None:
    """Letters per second extracted from text (pipeline built once), and PDF reading alone."""
    from tools.extraction_vs_cases import measure_speed

    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, letters in {letters}")
    print(measure_speed(sorted(letters.glob("*.txt")) + sorted(letters.glob("*.pdf")), runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-start-only", action="store_true",
                        help="Measure only the cold start (median of max(runs, 5) fresh processes).")
    parser.add_argument("--extraction", action="store_true", help="benchmark letter extraction only")
    parser.add_argument("--letters", type=Path, default=ROOT.parent / "shared" / "letters" / "dev")
    args = parser.parse_args()
    if args.cold_start_only:
        _print_cold_start(args.runs)
        return
    if args.extraction:
        bench_extraction(args.letters, args.runs)
        return
    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as folder:
        data = [synthetic_case(i, rng) for i in range(args.cases)]
        for index, case in enumerate(data):
            (Path(folder) / f"syn-{index:05d}.yaml").write_text(yaml.safe_dump(case, sort_keys=False))
        files = case_files([Path(folder)])
        cases = [Case.model_validate(case) for case in data]
        items = sum(len(c.requested_items) for c in cases)
        print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
              f"{len(files)} synthetic cases, {items} items, median of {args.runs} runs")
        one, one_s = bench_regress(files, 1, args.runs)
        two, two_s = bench_regress(files, 2, args.runs)
        durable, reference = evaluator(), reference_evaluator()
        evaluate_rate, _ = bench_evaluate(durable, cases, args.runs)
        matching_rate, _ = bench_matching(durable, cases, args.runs)
        reference_rate, _ = bench_evaluate(reference, cases, args.runs)
        reference_matching, _ = bench_matching(reference, cases, args.runs)
    per_item = items / len(files)
    print(f"regress, 1 process : {one:8.0f} cases/s  ({one * per_item:8.0f} items/s, {one_s:.2f} s)")
    print(f"regress, 2 processes: {two:8.0f} cases/s  ({two * per_item:8.0f} items/s, {two_s:.2f} s), "
          f"speed-up {two / one:.2f}x")
    print(f"evaluate only      : {evaluate_rate:8.0f} cases/s  ({evaluate_rate * per_item:8.0f} items/s), "
          "durable_rules")
    print(f"evaluate only      : {reference_rate:8.0f} cases/s  ({reference_rate * per_item:8.0f} items/s), "
          "reference engine (plain Python)")
    print(f"durable matching   : {matching_rate:8.0f} cases/s  ({matching_rate * per_item:8.0f} items/s); "
          f"pipeline / matching time ratio {matching_rate / one:.2f}x")
    print(f"reference matching : {reference_matching:8.0f} cases/s  ({reference_matching * per_item:8.0f} items/s)")
    _print_cold_start(args.runs)


if __name__ == "__main__":
    main()
