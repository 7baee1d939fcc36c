"""The Ray executor gives the local run's results: regress over the historical cases, extract over letters.

A local Ray with 2 CPUs is started by the test (the dev extra installs ray; only a core install skips).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from imr_rules.intake.extract import extract_letter
from imr_rules.regression.runner import case_files, run_files

from .conftest import ROOT, SEEDS, SHARED, run_cli

ray = pytest.importorskip("ray")

from imr_rules.scale.ray_executor import extract_on_ray, regress_on_ray  # noqa: E402

HISTORICAL = ROOT / "cases" / "historical"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_regress_on_ray_equals_the_local_run(local_ray: Any, tmp_path: Any) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("schema: 2\ncase_id: [\n")
    files = [*case_files([HISTORICAL, SEEDS]), broken]
    local = run_files(files, None, 1)
    on_ray = regress_on_ray(files, None, None)
    assert len(on_ray) == len(files) > 100
    assert [r.path for r in on_ray] == files
    assert on_ray == local
    assert on_ray[-1].problems and not on_ray[-1].outcomes


def test_extract_on_ray_equals_the_local_run(local_ray: Any) -> None:
    letters = sorted((SHARED / "letters" / "dev").glob("*.txt"))[:3]
    local = [extract_letter(p) for p in letters]
    on_ray = extract_on_ray(letters, None)
    assert [e.case for e in on_ray] == [e.case for e in local]
    assert [e.problems for e in on_ray] == [e.problems for e in local]


def test_cli_regress_executor_ray_prints_the_local_figures() -> None:
    local = run_cli("regress", "cases/seeds", "cases/historical", "-f", "json")
    on_ray = run_cli("regress", "cases/seeds", "cases/historical", "-f", "json", "--executor", "ray", "--jobs", "2")
    assert on_ray.returncode == local.returncode, on_ray.stderr[-2000:]
    assert json.loads(on_ray.stdout) == json.loads(local.stdout)
