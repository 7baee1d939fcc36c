"""Read an input file within bounds: regular files only, at most a given number of bytes actually read.

The size is checked on what is read, never on ``st_size`` (a pipe or ``/proc`` file reports 0), and a
file that is not a regular file (pipe, device, socket, folder) is refused before anything is read, so
``/dev/zero`` or a named pipe cannot make a command read forever or hang.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from imr_rules.common.diagnostics import Diagnostic, InputError, display_path

_OPEN_PROBLEMS = {
    errno.ENOENT: ("file not found", "check the path"),
    errno.EACCES: ("permission denied: the file cannot be read", "check the file's permissions"),
    errno.EPERM: ("permission denied: the file cannot be read", "check the file's permissions"),
    errno.ELOOP: ("symbolic link loop: the path never reaches a file", "point the link at a real file"),
    errno.ENAMETOOLONG: ("the file name is too long", "check the path"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.ENXIO: ("not a regular file (a socket or a device)", "give a file"),
}


def _problem(path: Path, message: str, hint: str = "", line: int | None = None) -> InputError:
    return InputError([Diagnostic(display_path(path), line, "(file)", message, hint)])


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_problem(path: Path, error: OSError) -> InputError:
    """A located message for an ``OSError`` met while opening or reading ``path``."""
    message, hint = _OPEN_PROBLEMS.get(error.errno or 0, (f"cannot read the file: {error.strerror or error}",
                                                          "check the path and the file"))
    return _problem(path, message, hint)


def read_limited(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``; ``InputError`` if it is not one, cannot be read or is over ``limit``.

    Opening does not block on a named pipe (``O_NONBLOCK``); the file's type is checked on the opened
    descriptor, so the check and the read see the same file.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise open_problem(path, exc) from None
    try:
        with os.fdopen(descriptor, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise _problem(path, f"is a folder, not a {what}", "give a file")
            if not stat.S_ISREG(mode):
                raise _problem(path, f"is {_kind(mode)}, not a {what}",
                               "give a regular file (standard input is read with '-' where a command allows it)")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise open_problem(path, exc) from None
    if len(data) > limit:
        raise _problem(path, f"file is larger than the limit of {limit:,} bytes", f"is this the right {what}?", 1)
    return data


def too_deep(data: object, limit: int) -> bool:
    """Whether lists and mappings in ``data`` nest deeper than ``limit`` (checked without recursion)."""
    pending: list[tuple[object, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            pending.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            pending.extend((child, depth + 1) for child in value)
    return False
