"""Throughput of `regress` over many synthetic cases, local process pool vs Ray (a script, not a test).

Writes N generated case files (tools/synthetic.py) to a temporary folder, runs the regression pipeline
over them (read YAML, validate, evaluate, explain, compare with the recorded outcome) with the local
process pool and with Ray actors, checks both give the same outcomes, and prints cases/s with the time
1M cases and the 1.6M-letter archive would take at that rate.

Usage: python scripts/scale_benchmark.py [--cases 100000] [--jobs 2] [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tools/ lives there

import yaml

from imr_rules.regression.runner import FileResult, case_files, run_files
from tools.synthetic import synthetic_case

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when available: the same YAML, faster


def write_cases(folder: Path, count: int) -> list[Path]:
    rng = random.Random(20261201)
    for index in range(count):
        sub = folder / f"{index // 10_000:03d}"
        sub.mkdir(exist_ok=True)
        text = yaml.dump(synthetic_case(index, rng), Dumper=_DUMPER, sort_keys=False)
        (sub / f"syn-{index:07d}.yaml").write_text(text)
    return case_files([folder])


def timed(label: str, run: object, count: int) -> tuple[list[FileResult], float]:
    start = time.perf_counter()
    results: list[FileResult] = run()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    rate = count / seconds
    print(f"{label:<28} {seconds:8.1f} s  {rate:8.0f} cases/s   1M cases: {1e6 / rate / 60:6.1f} min   "
          f"1.6M: {1.6e6 / rate / 3600:5.2f} h", flush=True)
    return results, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    figures: dict[str, object] = {"cases": options.cases, "jobs": options.jobs}
    with tempfile.TemporaryDirectory() as name:
        start = time.perf_counter()
        files = write_cases(Path(name), options.cases)
        figures["generate_s"] = round(time.perf_counter() - start, 1)
        print(f"{len(files)} synthetic case files written in {figures['generate_s']} s", flush=True)
        local, figures["local_rate"] = timed(f"local pool, {options.jobs} processes",
                                             lambda: run_files(files, None, options.jobs), len(files))
        figures["items"] = sum(len(r.outcomes) for r in local)
        if not options.skip_ray:
            from imr_rules.scale.ray_executor import regress_on_ray

            on_ray, figures["ray_rate"] = timed(f"Ray, {options.jobs} actors (incl. start)",
                                                lambda: regress_on_ray(files, None, None, options.jobs), len(files))
            figures["identical"] = on_ray == local
            print(f"Ray results identical to the local pool: {figures['identical']}")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
