"""Write output files atomically: a temporary file beside the target, then one rename.

A failure (disk full, no permission, the folder missing) leaves the target as it was (an existing file
is not truncated) and no temporary file behind, and is reported as an ``OutputError`` naming the file.
A target that exists but is not a regular file (``/dev/stdout``, a named pipe) is written in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


class OutputError(Exception):
    """An output could not be written; the message names the file and the reason."""


class OutputExistsError(OutputError):
    """The output file exists and replacing it was not allowed."""


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def check_target(path: Path) -> None:
    """Fail early, before any work, if ``path`` cannot be an output file: its folder is missing, or it is a folder."""
    folder = path.parent
    try:
        if not folder.is_dir():
            raise OutputError(f"{path}: cannot write: the folder {folder} does not exist")
        if path.is_dir():
            raise OutputError(f"{path}: cannot write: it is a folder; give a file name")
    except OSError as exc:  # a symlink loop, a name too long
        raise OutputError(f"{path}: cannot write: {_reason(exc)}") from None


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _special(path: Path) -> bool:
    """True when ``path`` exists and is not a regular file (a device or a pipe: written in place)."""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _place(temporary: Path, path: Path, replace: bool) -> None:
    """Rename ``temporary`` to ``path``; without ``replace``, only if ``path`` does not exist."""
    if replace:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)  # fails if the target exists: no moment at which it could be replaced
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        if path.exists():  # a file system without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, "exists", str(path)) from None
        os.replace(temporary, path)
        return
    with contextlib.suppress(OSError):
        temporary.unlink()


def write_atomic(path: Path, content: str | bytes, replace: bool = True) -> None:
    """Write ``content`` to ``path`` in one step; ``replace=False`` refuses an existing file (``OutputExistsError``)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    check_target(path)
    if path.is_dir() or _special(path):
        try:
            with path.open("wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write: {_reason(exc)}") from None
        return
    temporary = None
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        temporary = Path(name)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(path))
        _place(temporary, path, replace)
        temporary = None
    except FileExistsError:
        raise OutputExistsError(f"{path}: exists; not replaced (add --force to replace it)") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {_reason(exc)}") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()
