"""The code stays typed (mypy --strict) and lint-clean (ruff)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

LINTED = ["engine", "tests", "tools", "scripts"]


@pytest.mark.parametrize("tool", [["ruff", "check", *LINTED], ["mypy"]], ids=["ruff", "mypy"])
def test_tool_passes(tool: list[str]) -> None:
    if shutil.which(tool[0]) is None and not (ROOT / ".venv" / "bin" / tool[0]).exists():
        pytest.skip(f"{tool[0]} is not installed")
    result = subprocess.run([sys.executable, "-m", *tool], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
