"""The pipeline in one place: load -> validate -> compile -> register (the knowledge base) -> evaluate.

The CLI and tests call this. A knowledge base and its evaluator are built once per process and rules folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from imr_rules.cases.vocabulary import shipped_rules_dir
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge import KnowledgeBase, build_knowledge_base
from imr_rules.rulebase.loader import load_rules
from imr_rules.rulebase.model import RuleBase
from imr_rules.rulebase.validator import validate_rules

RULES_ENV = "IMR_RULES_DIR"


def default_rules_dir() -> Path:
    """The rule base to use when none is given: $IMR_RULES_DIR, else the shipped rules (see shipped_rules_dir)."""
    return shipped_rules_dir()


def load_rule_base(root: Path | None = None) -> tuple[RuleBase, list[Diagnostic]]:
    """Load and validate a rule base; raise ``InputError`` with every error if any is found.

    Nothing is cached between processes (issue 11: no pickle; a JSON cache of the parsed files was measured
    and saved nothing over libyaml's parser): a rule base is read afresh from its files every time.
    """
    loaded = load_rules(root or default_rules_dir())
    rule_base, diagnostics = validate_rules(loaded)
    if rule_base is None:
        raise InputError([d for d in diagnostics if d.severity == "error"])
    return rule_base, diagnostics


@lru_cache(maxsize=4)
def _knowledge_base_for(root: Path) -> KnowledgeBase:
    rule_base, diagnostics = load_rule_base(root)
    return build_knowledge_base(rule_base, tuple(diagnostics), register_all=False)


def load_knowledge_base(root: Path | None = None, register_all: bool = False) -> KnowledgeBase:
    """The knowledge base of a rules folder: validated, every ruleset compiled and checked against durable's
    limits; with ``register_all`` every ruleset is also registered now (else each on first use).

    Built once per process and folder; raises ``InputError`` locating every problem (rule files, durable's
    limits, a ruleset durable refuses).
    """
    knowledge_base = _knowledge_base_for((root or default_rules_dir()).resolve())
    if register_all:
        knowledge_base.register_all()
    return knowledge_base


@lru_cache(maxsize=4)
def _evaluator_for(root: Path) -> Evaluator:
    return Evaluator(_knowledge_base_for(root))


def evaluator(root: Path | None = None) -> Evaluator:
    """An evaluator for a rule base, built once per process and rules folder."""
    return _evaluator_for((root or default_rules_dir()).resolve())


@lru_cache(maxsize=4)
def _reference_evaluator_for(root: Path) -> Evaluator:
    from imr_rules.engine.reference import ReferenceEngine  # tests and benchmarks only: kept off the cold start

    rule_base, diagnostics = load_rule_base(root)
    return Evaluator(build_knowledge_base(rule_base, tuple(diagnostics), ReferenceEngine()))


def reference_evaluator(root: Path | None = None) -> Evaluator:
    """An evaluator running the same compiled rulesets in the plain-Python reference engine (no durable)."""
    return _reference_evaluator_for((root or default_rules_dir()).resolve())
