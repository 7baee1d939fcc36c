"""Light install: a command whose optional packages are missing names the extra to install; evaluate needs none."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from imr_rules.common.extras import EXTRAS, MissingExtraError, needs_extra

from .conftest import ROOT, SEEDS, SHARED

SEED = SEEDS / "seed-000-cervical-fusion.yaml"
HEAVY = ("medspacy", "spacy", "weasyprint", "pypdf", "fastapi", "uvicorn", "ray")


def _run_without(blocked: tuple[str, ...], *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a process where importing any of ``blocked`` fails as if it were not installed."""
    code = ("import sys\n"
            f"for name in {list(blocked)!r}: sys.modules[name] = None\n"
            f"sys.argv = ['imr-rules', *{[str(a) for a in args]!r}]\n"
            "from imr_rules.cli import main\nmain()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180)


def test_evaluate_needs_no_extra() -> None:
    done = _run_without(HEAVY, "evaluate", SEED, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert '"decision"' in done.stdout


def test_evaluate_imports_no_heavy_package() -> None:
    code = ("import sys\nfrom imr_rules.cli import main\nsys.argv = ['imr-rules', 'evaluate', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print('LOADED', sorted(m for m in {list(HEAVY)!r} if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, str(SEED)], capture_output=True, text=True, cwd=ROOT,
                          timeout=180)
    assert "LOADED []" in done.stderr


def test_pdf_without_documents_extra_names_it(tmp_path: Path) -> None:
    done = _run_without(("weasyprint",), "evaluate", SEED, "--format", "pdf", "-o", tmp_path / "d.pdf")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "imr-rules: PDF output needs the 'documents' extra (weasyprint is not installed): "
        "pip install 'imr-rules[documents]'"]
    assert not (tmp_path / "d.pdf").exists()


@pytest.mark.parametrize("command", ["extract", "regress"])
def test_letters_without_intake_extra_name_it(command: str) -> None:
    letter = next((SHARED / "letters" / "dev").glob("*.txt"))
    done = _run_without(("medspacy", "pypdf"), command, letter)
    assert done.returncode == 1
    assert "pip install 'imr-rules[intake]'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_serve_without_service_extra_names_it() -> None:
    done = _run_without(("fastapi", "uvicorn"), "serve", "--port", "1")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "imr-rules: the HTTP service (serve) needs the 'service' extra (uvicorn is not installed): "
        "pip install 'imr-rules[service]'")


def test_needs_extra_lets_other_missing_modules_through() -> None:
    with pytest.raises(ModuleNotFoundError), needs_extra("service"):
        import imr_rules_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    with pytest.raises(MissingExtraError, match=r"imr-rules\[ray\]"), needs_extra("ray"):
        raise ModuleNotFoundError("no ray", name="ray.util")


def test_core_dependencies_leave_the_heavy_packages_to_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    assert not any(name in core for name in HEAVY)
    extras = project["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    assert "imr-rules[all]" in extras["dev"]
    assert all(f"[{name}" in extras["all"][0] or name in extras["all"][0] for name in EXTRAS)
