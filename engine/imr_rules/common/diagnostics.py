"""Diagnostics: errors and warnings that point at a file, a line and a field, with a hint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imr_rules.common.text import printable

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in an input file."""

    file: str
    line: int | None
    field: str
    message: str
    hint: str = ""
    severity: Severity = "error"

    def render(self) -> str:
        """Format as ``file:line: severity: field: message (hint: ...)``, on two lines at most.

        Every part may quote the input (a file name, a key, a value), so each is made printable first.
        """
        file, field, message, hint = (printable(part) for part in (self.file, self.field, self.message, self.hint))
        where = f"{file}:{self.line}" if self.line else file
        text = f"{where}: {self.severity}: {field}: {message}" if field else f"{where}: {self.severity}: {message}"
        if hint:
            text += f"\n    hint: {hint}"
        return text


class InputError(Exception):
    """Raised when an input file (case or rule base) cannot be used; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.render() for d in diagnostics))


def display_path(path: Path) -> str:
    """A path as the user would recognise it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # outside the working directory, or a symlink loop
        return str(path)
