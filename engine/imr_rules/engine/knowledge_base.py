"""The pipeline in one place: load -> validate -> compile -> (evaluate). The CLI and tests call this."""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from functools import lru_cache
from pathlib import Path

from imr_rules import __version__
from imr_rules.cases.vocabulary import shipped_rules_dir
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.rulebase.compiler import CompiledRuleBase, compile_rule_base
from imr_rules.rulebase.loader import load_rules
from imr_rules.rulebase.model import RuleBase
from imr_rules.rulebase.validator import validate_rules

RULES_ENV = "IMR_RULES_DIR"


def default_rules_dir() -> Path:
    """The rule base to use when none is given: $IMR_RULES_DIR, else the shipped rules (see shipped_rules_dir)."""
    return shipped_rules_dir()


CACHE_ENV = "IMR_RULES_CACHE_DIR"


def _cache_file(root: Path) -> Path | None:
    """Where a validated copy of this exact rule base is kept: keyed by every file's bytes and the versions."""
    if os.environ.get(CACHE_ENV) == "off":
        return None
    # The rule base holds its folder's absolute paths and file names as shown from the working directory,
    # so both are part of the key along with every file's content.
    digest = hashlib.sha256(f"{__version__}|{sys.version}|{root.resolve()}|{Path.cwd()}".encode())
    for path in sorted(root.rglob("*.y*ml")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    base = Path(os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                / "imr-rules")
    return base / f"rules-{digest.hexdigest()[:32]}.pickle"


def load_rule_base(root: Path | None = None) -> tuple[RuleBase, list[Diagnostic]]:
    """Load and validate a rule base; raise ``InputError`` with every error if any is found.

    A rule base that validated is cached (pickled, keyed by the content of every rule file), so the next
    process skips parsing and validation; any change to any file makes a new key.
    """
    folder = root or default_rules_dir()
    cache = _cache_file(folder) if folder.is_dir() else None
    if cache is not None and cache.exists():
        try:
            with cache.open("rb") as handle:
                cached: tuple[RuleBase, list[Diagnostic]] = pickle.load(handle)
            return cached
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ImportError):
            pass  # a stale or unreadable cache is rebuilt below
    loaded = load_rules(folder)
    rule_base, diagnostics = validate_rules(loaded)
    if rule_base is None:
        raise InputError([d for d in diagnostics if d.severity == "error"])
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache.with_suffix(f".{os.getpid()}.tmp")
            with temporary.open("wb") as handle:
                pickle.dump((rule_base, diagnostics), handle, protocol=pickle.HIGHEST_PROTOCOL)
            temporary.replace(cache)
        except OSError:
            pass  # caching is an optimisation only
    return rule_base, diagnostics


def compile_rules(root: Path | None = None) -> CompiledRuleBase:
    """Load, validate and compile a rule base."""
    rule_base, _ = load_rule_base(root)
    return compile_rule_base(rule_base)


@lru_cache(maxsize=4)
def _evaluator_for(root: Path) -> Evaluator:
    return Evaluator(compile_rules(root))


def evaluator(root: Path | None = None) -> Evaluator:
    """An evaluator for a rule base, built once per process and rules folder."""
    return _evaluator_for((root or default_rules_dir()).resolve())
