"""Shared helpers: paths, the CLI run as a real subprocess, and case files written on the fly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
SEEDS = ROOT / "cases" / "seeds"
SHARED = ROOT.parent / "shared"

# Fuzzing profiles: "ci" (the default) is short and deterministic and writes no example database;
# HYPOTHESIS_PROFILE=long runs about fifty times more examples and keeps a database in .hypothesis/.
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("long", deadline=None, print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
_Test = TypeVar("_Test", bound=Callable[..., Any])


def examples(ci: int, long: int) -> Callable[[_Test], _Test]:
    """How many examples a fuzz test runs: ``ci`` in the default profile, ``long`` in the long one.

    Fuzz tests use a temporary folder per test (files are rewritten for every example) and some examples
    are slow by nature (a process pool), so those two health checks are off.
    """
    count = long if PROFILE == "long" else ci
    return settings(max_examples=count, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow])


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m imr_rules ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "imr_rules", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)


def load(path: Path) -> dict[str, Any]:
    """A YAML file as data."""
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def seed_000_dated(surgery_date: str, unused_postop_visits: int | None = 8) -> dict[str, Any]:
    """Seed 000 as data with its cervical fusion dated (its summary names the fusion without a date) and,
    unless None, a postsurgical therapy course authorized and not attended."""
    data = load(SEEDS / "seed-000-cervical-fusion.yaml")
    data["clinical"]["surgeries"][0]["date"] = surgery_date
    if unused_postop_visits is not None:
        data["clinical"]["treatment"]["courses"].append(
            {"modality": "physical_therapy", "region": "cervical", "phase": "postsurgical",
             "visits_authorized": unused_postop_visits, "visits_completed": 0})
    return data


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped rules folder, for tests that break it on purpose."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


@pytest.fixture
def write_case(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a case dict (or raw text) to a temporary YAML file and return its path."""
    def write(content: dict[str, Any] | str | bytes, name: str = "case.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False))
        return path
    return write
