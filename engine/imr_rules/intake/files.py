"""Which files are IMR letters, and the letters under a folder (for ``extract`` and ``regress``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

LETTER_SUFFIXES = (".txt", ".pdf")


def is_letter(path: Path) -> bool:
    """True for an IMR letter (PDF or plain text) rather than a case file."""
    return path.suffix.lower() in LETTER_SUFFIXES


def letters_in(folder: Path) -> list[Path]:
    """The letters under ``folder``, sorted; a letter there both as text and as PDF is taken once, as text.

    Names starting with '_' are skipped.
    """
    letters = sorted(p for p in folder.rglob("*") if is_letter(p) and p.is_file() and not p.name.startswith("_"))
    texts = {p.with_suffix("") for p in letters if p.suffix.lower() == ".txt"}
    return [p for p in letters if p.suffix.lower() == ".txt" or p.with_suffix("") not in texts]


def letter_files(paths: Iterable[Path]) -> list[Path]:
    """Files taken as given, folders searched for letters (``letters_in``), in the order given."""
    found: list[Path] = []
    for path in paths:
        found.extend(letters_in(path) if path.is_dir() else [path])
    return found
