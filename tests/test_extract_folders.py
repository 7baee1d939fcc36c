"""`extract` takes folders: every letter under them, a letter kept as both text and PDF read once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from imr_rules.cli import app
from imr_rules.intake.files import letter_files, letters_in

DEV = Path(__file__).resolve().parents[2] / "shared" / "letters" / "dev"


def _letters(folder: Path) -> Path:
    """Two letters as both text and PDF, a third as PDF only in a subfolder, a stray file and a draft."""
    target = folder / "letters"
    (target / "more").mkdir(parents=True)
    pdfs = sorted(p for p in DEV.glob("*.pdf") if p.with_suffix(".txt").exists())[:3]
    for pdf in pdfs[:2]:
        shutil.copy(pdf, target / pdf.name)
        shutil.copy(pdf.with_suffix(".txt"), target / pdf.with_suffix(".txt").name)
    shutil.copy(pdfs[2], target / "more" / pdfs[2].name)
    (target / "notes.md").write_text("not a letter\n")
    (target / "_draft.txt").write_text("skipped: starts with an underscore\n")
    return target


def test_a_folder_gives_each_letter_once_preferring_text(tmp_path: Path) -> None:
    folder = _letters(tmp_path)
    found = letters_in(folder)
    names = [p.relative_to(folder).as_posix() for p in found]
    texts = sorted(p.name for p in folder.glob("*.txt") if not p.name.startswith("_"))
    assert names == [*texts, *(f"more/{p.name}" for p in (folder / "more").glob("*.pdf"))]
    assert letter_files([folder / "notes.md", folder]) == [folder / "notes.md", *found]


def test_extract_reads_every_letter_of_a_folder(tmp_path: Path) -> None:
    folder = _letters(tmp_path)
    result = CliRunner().invoke(app, ["extract", str(folder), "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    cases = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(cases) == len(letters_in(folder))
    assert all(case["requested_items"] for case in cases)


def test_a_folder_without_letters_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["extract", str(tmp_path)])
    assert result.exit_code == 2
    assert "no letters" in result.output
