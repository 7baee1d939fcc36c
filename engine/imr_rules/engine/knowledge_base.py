"""The pipeline in one place: load -> validate -> compile -> (evaluate). The CLI and tests call this."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.rulebase.compiler import CompiledRuleBase, compile_rule_base
from imr_rules.rulebase.loader import load_rules
from imr_rules.rulebase.model import RuleBase
from imr_rules.rulebase.validator import validate_rules

RULES_ENV = "IMR_RULES_DIR"


def default_rules_dir() -> Path:
    """The rule base to use when none is given: $IMR_RULES_DIR, else the shipped rules.

    Installed, the rules are package data beside the code; in a source checkout they are ``rules/``.
    """
    configured = os.environ.get(RULES_ENV)
    if configured:
        return Path(configured)
    package = Path(__file__).resolve().parents[1]  # imr_rules/
    installed = package / "rules"
    if (installed / "guidelines.yaml").exists():
        return installed
    return package.parent.parent / "rules"


def load_rule_base(root: Path | None = None) -> tuple[RuleBase, list[Diagnostic]]:
    """Load and validate a rule base; raise ``InputError`` with every error if any is found.

    Nothing is cached between processes: loading and validating the shipped rule base takes about 50 ms
    of CPU (the pickle cache it replaces saved about 40 ms of that, and could run code planted in the
    cache folder). A rule base is read afresh from its files every time.
    """
    loaded = load_rules(root or default_rules_dir())
    rule_base, diagnostics = validate_rules(loaded)
    if rule_base is None:
        raise InputError([d for d in diagnostics if d.severity == "error"])
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
