"""The knowledge base, built once (Drools' kbase/session split): every ruleset compiled, checked against
durable_rules' limits and registered in the engine, then frozen. Item sessions run against it.

Registering every ruleset up front is what lets ``validate`` prove that durable accepts the whole rule
base: a ruleset the model of durable's limits passes but durable still refuses is located by registering
ever shorter prefixes of it, down to the first rule durable will not take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.engine.durable_adapter import DurableEngine, RulesetRefusedError
from imr_rules.engine.session import RuleEngine
from imr_rules.rulebase.compiler import CompiledRuleBase, CompiledRuleset, compile_rule_base, origin_of
from imr_rules.rulebase.limits import check_limits
from imr_rules.rulebase.model import RuleBase


@dataclass(frozen=True)
class KnowledgeBase:
    """A validated rule base, compiled, within durable's limits and registered in one engine."""

    rule_base: RuleBase
    compiled: CompiledRuleBase
    engine: RuleEngine
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def version(self) -> str:
        """The content hash of the rule base."""
        return self.rule_base.version


def _prefix(ruleset: CompiledRuleset, count: int) -> dict[str, Any]:
    definition = ruleset.definition
    names = [name for name in definition if name != "sentinel"][:count]
    return {"sentinel": definition["sentinel"], **{name: definition[name] for name in names}}


def locate_refusal(ruleset: CompiledRuleset, refuses: Callable[[str, dict[str, Any]], bool],
                   error: RulesetRefusedError) -> Diagnostic:
    """The rule whose addition makes durable refuse ``ruleset`` (found by halving), as a located error."""
    rules = [name for name in ruleset.definition if name != "sentinel"]
    low, high = 0, len(rules)  # the first ``low`` rules are accepted; all ``high`` are refused
    while high - low > 1:
        middle = (low + high) // 2
        if refuses(f"{ruleset.name}_probe{middle}", _prefix(ruleset, middle)):
            high = middle
        else:
            low = middle
    where = origin_of(ruleset.actions[rules[high - 1]])
    return Diagnostic(where.file, where.line, "durable", f"durable_rules refuses the ruleset for "
                      f"{ruleset.routes[0].service}/{ruleset.routes[0].region} from {ruleset.routes[0].period.start}"
                      f" once this rule is added (error {error.code})",
                      "split the rule or its topic, or report the limit this rule passes")


def register_all(compiled: CompiledRuleBase, engine: RuleEngine) -> None:
    """Register every ruleset; raise ``InputError`` locating each one durable refuses."""
    refused: list[Diagnostic] = []
    for ruleset in compiled.rulesets.values():
        try:
            engine.register(ruleset.name, ruleset.definition_json)
        except RulesetRefusedError as exc:
            if isinstance(engine, DurableEngine):
                refused.append(locate_refusal(ruleset, engine.refuses, exc))
            else:
                where = ruleset.topics[0].where
                refused.append(Diagnostic(where.file, where.line, "durable", str(exc)))
    if refused:
        raise InputError(refused)


def build_knowledge_base(rule_base: RuleBase, diagnostics: tuple[Diagnostic, ...] = (),
                         engine: RuleEngine | None = None) -> KnowledgeBase:
    """Compile every ruleset, check durable's limits, register all in ``engine`` (default: a durable engine).

    Raises ``InputError`` with every located problem when a limit is passed or durable refuses a ruleset.
    """
    return knowledge_base_of(compile_rule_base(rule_base), diagnostics, engine)


def knowledge_base_of(compiled: CompiledRuleBase, diagnostics: tuple[Diagnostic, ...] = (),
                      engine: RuleEngine | None = None) -> KnowledgeBase:
    """The knowledge base of an already compiled rule base (limits checked, every ruleset registered)."""
    problems = check_limits(compiled)
    if problems:
        raise InputError(problems)  # registering would fail, or (past 511 nodes under one) never return
    target: RuleEngine = engine if engine is not None else DurableEngine()
    register_all(compiled, target)
    return KnowledgeBase(compiled.rule_base, compiled, target, diagnostics)
