"""Shared helpers: paths, the CLI run as a real subprocess, and case files written on the fly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
SEEDS = ROOT / "cases" / "seeds"
SHARED = ROOT.parent / "shared"


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m imr_rules ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "imr_rules", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)


def load(path: Path) -> dict[str, Any]:
    """A YAML file as data."""
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
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
