"""A per-user cache of the compiled rule base, so a fresh process need not read, validate and compile it again.

Reading the 220-odd rule and vocabulary files, validating and compiling them takes most of a cold start
(about 0.18 s of 0.5 s); loading the compiled result from this cache takes about 0.04 s. Drools does the
same with a serialised knowledge base.

The entry is keyed by everything the result depends on, so a stale entry is never served: the bytes and
relative names of every file the loader reads (registry, fact catalogue, vocabulary, rule files), the
rules folder's path, the package version, the size and modification time of every module of the package
(a changed compiler means a new key) and the Python version. Only what ``load -> validate -> compile``
produces is kept; registration in durable_rules happens in each process as before.

Trust. An entry is a pickle, and loading a pickle runs code, so an entry is read only where nobody but the
user could have written it, the same trust Python gives its own bytecode cache: the folder and the file
must belong to the user running the command and be writable by nobody else; otherwise the cache is not
used (nor written). ``IMR_RULES_CACHE=off`` turns the cache off; ``IMR_RULES_CACHE=DIR`` moves it (the
default is ``$XDG_CACHE_HOME/imr-rules``, else ``~/.cache/imr-rules``). A damaged or unreadable entry is
rebuilt; a folder that cannot be written only costs the saving. ``imr-rules validate`` never uses it.
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

from imr_rules import __version__
from imr_rules.cases.vocabulary import VOCABULARY_DIR, vocabulary_files
from imr_rules.common.diagnostics import Diagnostic
from imr_rules.rulebase.compiler import CompiledRuleBase
from imr_rules.rulebase.loader import CATALOGUE_FILE, FACTS_FILE, REGISTRY_FILE, rule_file_paths

CACHE_ENV = "IMR_RULES_CACHE"
"""``off`` (or ``0``, ``no``, ``false``) turns the cache off; any other value is the cache folder."""
KEEP_ENTRIES = 8
"""Entries kept in the folder (the newest); older ones are removed when a new one is written."""
_SUFFIX = ".kb.pickle"
_PACKAGE = Path(__file__).resolve().parents[1]


def _mapping_proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


copyreg.pickle(MappingProxyType, lambda proxy: (_mapping_proxy, (dict(proxy),)))


def cache_folder() -> Path | None:
    """The folder holding the cache, or None when ``IMR_RULES_CACHE`` turns it off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        if configured.strip().lower() in ("", "off", "0", "no", "false"):
            return None
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imr-rules"


@functools.cache
def _code_fingerprint() -> bytes:
    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{pickle.HIGHEST_PROTOCOL}".encode())
    for module in sorted(_PACKAGE.rglob("*.py")):
        status = module.stat()
        digest.update(f"{module.relative_to(_PACKAGE)}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    return digest.digest()


def cache_key(root: Path) -> str:
    """The key of a rules folder's entry: a digest of the code and of every file the loader reads."""
    digest = hashlib.sha256(_code_fingerprint())
    digest.update(str(root).encode() + b"\0")
    paths = [root / REGISTRY_FILE, root / FACTS_FILE, root / CATALOGUE_FILE,
             *vocabulary_files(root / VOCABULARY_DIR), *rule_file_paths(root)]
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0<absent>\0")
    return digest.hexdigest()[:32]


def _private(path: Path) -> bool:
    """True when ``path`` belongs to the user running this process and nobody else may write it."""
    if not hasattr(os, "getuid"):
        return False  # no owner to check (Windows): the cache is not used
    try:
        status = path.lstat()
    except OSError:
        return False
    return (status.st_uid == os.getuid() and not stat.S_ISLNK(status.st_mode)
            and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def load(root: Path) -> tuple[CompiledRuleBase, tuple[Diagnostic, ...]] | None:
    """The compiled rule base of ``root`` and its validation diagnostics from the cache, or None (no usable entry)."""
    folder = cache_folder()
    if folder is None or not _private(folder):
        return None
    entry = folder / (cache_key(root) + _SUFFIX)
    if not _private(entry):
        return None
    try:
        with entry.open("rb") as stream:
            compiled, diagnostics = pickle.load(stream)
    except Exception:
        return None
    if not isinstance(compiled, CompiledRuleBase) or not isinstance(diagnostics, tuple):
        return None
    return compiled, diagnostics


def store(root: Path, compiled: CompiledRuleBase, diagnostics: tuple[Diagnostic, ...]) -> Path | None:
    """Write the entry of ``root`` (atomically, readable by the user only); the path written, or None."""
    folder = cache_folder()
    if folder is None:
        return None
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private(folder):
        return None
    entry = folder / (cache_key(root) + _SUFFIX)
    try:
        data = pickle.dumps((compiled, diagnostics), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None  # a rule base holding something pickle cannot write is simply not cached
    if not _write_private(entry, data):
        return None
    _prune(folder)
    return entry


def _write_private(entry: Path, data: bytes) -> bool:
    """Write ``data`` to ``entry`` through a temporary file only the user can read (mkstemp's mode 0600)."""
    try:
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, entry)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True


def _prune(folder: Path) -> None:
    dated = []
    for path in folder.glob("*" + _SUFFIX):
        with contextlib.suppress(OSError):  # another process may remove entries meanwhile
            dated.append((path.stat().st_mtime_ns, path))
    for _, old in sorted(dated, reverse=True)[KEEP_ENTRIES:]:
        with contextlib.suppress(OSError):
            old.unlink()
