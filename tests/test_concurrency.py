"""Evaluation is safe for concurrent callers: threads share one evaluator and get the serial results.

The threads run in a child process, so a crash inside durable_rules (which is what unsynchronised
threads caused: a segfault or durable error 307) fails this test instead of killing the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from .conftest import ROOT, RULES, SEEDS

THREADS = 6
ROUNDS = 25


def workload() -> None:
    """Evaluate seeds and rule examples from several threads at once; print the failures as JSON."""
    from imr_rules.cases.reader import read_case
    from imr_rules.engine.knowledge_base import evaluator

    engine = evaluator(RULES)
    paths = sorted(SEEDS.glob("*.yaml")) + sorted(RULES.glob("*/*.examples/*.yaml"))[:40]
    cases = [read_case(path) for path in paths]
    expected = [engine.evaluate(case).to_json() for case in cases]
    failures: list[str] = []
    start = threading.Barrier(THREADS)

    def work(offset: int) -> None:
        start.wait()
        for round_number in range(ROUNDS):
            index = (offset * 7 + round_number) % len(cases)
            try:
                got = engine.evaluate(cases[index]).to_json()
            except Exception as exc:  # every failure is collected and reported
                failures.append(f"thread {offset}: {type(exc).__name__}: {exc}")
                continue
            if got != expected[index]:
                failures.append(f"thread {offset}: case {cases[index].case_id} differs from the serial result")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"evaluations": THREADS * ROUNDS, "failures": failures}))


def test_threads_evaluating_at_once_get_the_serial_results() -> None:
    code = "from tests.test_concurrency import workload; workload()"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"evaluations": THREADS * ROUNDS, "failures": []}
