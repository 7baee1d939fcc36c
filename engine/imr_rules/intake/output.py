"""Write extracted cases: one file per letter (atomically, never over an existing file unless forced, never
over another letter's case of the same run), or a stream on standard output (YAML documents or JSON Lines).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from imr_rules.cases.model import Case
from imr_rules.common.outputs import OutputError, write_atomic
from imr_rules.common.text import json_text
from imr_rules.intake.extract import case_document


class SameCaseTwiceError(OutputError):
    """Two letters of one run give the same case number: the second is not written."""


def case_text(case: Case, file_format: str, stream: bool) -> str:
    """The case as YAML or JSON; on a stream, YAML documents start with ``---`` and JSON takes one line each."""
    document = case_document(case)
    if file_format == "json":
        if stream:
            return json_text(json.dumps(document, ensure_ascii=False, separators=(",", ":"))) + "\n"
        return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
    return "---\n" + text if stream else text


class CaseFolder:
    """The folder extracted cases are written to, remembering which letter each file came from in this run."""

    def __init__(self, folder: Path, file_format: str, force: bool) -> None:
        self.folder = folder
        self.file_format = file_format
        self.force = force
        self.written: dict[Path, str] = {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create the output folder: {exc.strerror or exc}") from None
        if not folder.is_dir():
            raise OutputError(f"{folder}: not a folder")

    def write(self, letter: str, case: Case) -> Path:
        """Write the case of ``letter``; ``OutputError`` (or ``SameCaseTwiceError``) when it cannot or must not be."""
        target = self.folder / f"{case.case_id}.{self.file_format}"
        if target in self.written:
            raise SameCaseTwiceError(f"{target}: already written from {self.written[target]} in this run (same case "
                                f"number {case.case_id}); {letter} not written")
        write_atomic(target, case_text(case, self.file_format, stream=False), replace=self.force)
        self.written[target] = letter
        return target
