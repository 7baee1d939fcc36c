"""Figures for issue 11 (hostile input): peak memory of a YAML alias bomb, ``explain`` time by item count.

    python -m tools.hostile_figures [--items 200 1100] [--uncapped]

Each measurement runs the CLI in a fresh process and reports wall time and peak resident memory
(``ru_maxrss`` of that child alone). ``--uncapped`` also times the search for every item (in-process, the
per-run cap lifted) to show that the cost per item stays flat as the case grows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join(["*" + chr(97 + i)] * 10) + "]\n" for i in range(8))
ITEM_KINDS = [("physical_therapy", "lumbar"), ("chiropractic", "lumbar"), ("imaging_mri", "lumbar"),
              ("acupuncture", "cervical")]


def run(args: list[str]) -> tuple[int, float, int, str]:
    """Exit code, seconds, peak memory (KB) and the first stderr line of ``imr-rules ARGS`` in a new process."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "imr_rules", *args], stdout=subprocess.DEVNULL, stderr=err,
                                   cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        first = (err.read().decode(errors="replace").strip().splitlines() or [""])[0]
    return process.returncode, seconds, usage.ru_maxrss, first


def case_with_items(count: int, folder: Path) -> Path:
    """A case requesting ``count`` items (four services in turn), based on seed 001."""
    data = yaml.safe_load((ROOT / "cases" / "seeds" / "seed-001-lumbar-pt.yaml").read_text())
    data.pop("recorded", None)
    data["requested_items"] = [{"id": str(n + 1), "description": f"item {n + 1}", "service": ITEM_KINDS[n % 4][0],
                                "body_region": ITEM_KINDS[n % 4][1], "visits": 6} for n in range(count)]
    path = folder / f"items-{count}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def uncapped_search_seconds(path: Path) -> float:
    """Seconds to search what would change the decision for every item of the case (no cap), in-process."""
    from imr_rules.cases.reader import read_case
    from imr_rules.engine.knowledge_base import evaluator
    from imr_rules.review.whatif import what_would_change

    engine = evaluator()
    case = read_case(path)
    start = time.perf_counter()
    full = engine.evaluate(case)
    for item in case.requested_items:
        what_would_change(engine, case, item.id, full=full)
    return time.perf_counter() - start


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="*", default=[200, 1100])
    parser.add_argument("--uncapped", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bomb = Path(folder) / "bomb.yaml"
        bomb.write_text(BOMB)
        code, seconds, peak, message = run(["evaluate", str(bomb)])
        print(f"alias bomb ({len(BOMB)} bytes): exit {code}, {seconds:.2f} s, peak {peak / 1024:.0f} MB: {message}")
        for count in options.items:
            path = case_with_items(count, Path(folder))
            code, seconds, peak, _ = run(["explain", str(path)])
            print(f"explain, {count} items: exit {code}, {seconds:.1f} s, peak {peak / 1024:.0f} MB")
            if options.uncapped:
                print(f"  every item searched (no cap), in-process: {uncapped_search_seconds(path):.1f} s")


if __name__ == "__main__":
    main()
