"""The knowledge base, built once (Drools' kbase/session split): every ruleset compiled up front and frozen,
checked against durable_rules' limits and registered in the engine. Item sessions run against it.

Registering every ruleset up front is what lets ``validate`` prove that durable accepts the whole rule
base: a ruleset the model of durable's limits passes but durable still refuses is located by registering
ever shorter prefixes of it, down to the first rule durable will not take.

Registration in durable is the one step that may wait: a process that only evaluates checks and registers
each ruleset the first time an item is routed to it (``register_all=False``), because modelling and
registering all 157 rulesets of the shipped rule base costs more than half the rest of a cold start;
``validate`` always checks and registers them all. Compiling every ruleset is never deferred.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.engine.durable_adapter import DurableEngine, EngineError, RulesetRefusedError
from imr_rules.engine.session import RuleEngine
from imr_rules.rulebase.compiler import CompiledRuleBase, CompiledRuleset, compile_rule_base, origin_of
from imr_rules.rulebase.limits import check_limits, check_nesting, check_ruleset
from imr_rules.rulebase.model import RuleBase


@dataclass(frozen=True)
class KnowledgeBase:
    """A validated rule base, compiled, within durable's limits and registered in one engine."""

    rule_base: RuleBase
    compiled: CompiledRuleBase
    engine: RuleEngine
    diagnostics: tuple[Diagnostic, ...] = ()
    _registered: set[str] = field(default_factory=set, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def version(self) -> str:
        """The content hash of the rule base."""
        return self.rule_base.version

    @property
    def registered(self) -> frozenset[str]:
        """The rulesets registered in the engine so far."""
        return frozenset(self._registered)

    def ruleset_for(self, service: str, region: str, on: dt.date) -> CompiledRuleset | None:
        """The ruleset an item is routed to: checked against durable's limits and registered if it was not yet.

        Raises ``EngineError`` (saying where) when that ruleset passes a limit or durable refuses it.
        """
        ruleset = self.compiled.ruleset_for(service, region, on)
        if ruleset is not None and ruleset.name not in self._registered:
            with self._lock:
                if ruleset.name not in self._registered:
                    problems = check_ruleset(ruleset)
                    if problems:
                        raise EngineError("the rule base passes a durable_rules limit (run imr-rules validate):\n"
                                          + "\n".join(p.render() for p in problems))
                    self.engine.register(ruleset.name, ruleset.definition_json)
                    self._registered.add(ruleset.name)
        return ruleset

    def register_all(self) -> None:
        """Check every ruleset against durable's limits and register those not registered yet.

        Raises ``InputError`` locating every limit passed (nothing is registered then: past some limits
        durable never returns) and every ruleset durable refuses.
        """
        with self._lock:
            problems = check_limits(self.compiled)
            if problems:
                raise InputError(problems)
            pending = [r for name, r in self.compiled.rulesets.items() if name not in self._registered]
            registered, refused = register(pending, self.engine)
            self._registered.update(registered)
            if refused:
                raise InputError(refused)


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


def register(rulesets: list[CompiledRuleset], engine: RuleEngine) -> tuple[list[str], list[Diagnostic]]:
    """Register the rulesets in ``engine``: the names registered, and a located error for each one refused."""
    registered: list[str] = []
    refused: list[Diagnostic] = []
    for ruleset in rulesets:
        try:
            engine.register(ruleset.name, ruleset.definition_json)
        except RulesetRefusedError as exc:
            if isinstance(engine, DurableEngine):
                refused.append(locate_refusal(ruleset, engine.refuses, exc))
            else:
                where = ruleset.topics[0].where
                refused.append(Diagnostic(where.file, where.line, "durable", str(exc)))
        else:
            registered.append(ruleset.name)
    return registered, refused


def build_knowledge_base(rule_base: RuleBase, diagnostics: tuple[Diagnostic, ...] = (),
                         engine: RuleEngine | None = None, register_all: bool = True) -> KnowledgeBase:
    """Compile every ruleset, check durable's limits, register them in ``engine`` (default: a durable engine).

    Raises ``InputError`` with every located problem when a limit is passed or durable refuses a ruleset.
    With ``register_all=False`` each ruleset is registered when an item is first routed to it.
    """
    return knowledge_base_of(compile_rule_base(rule_base), diagnostics, engine, register_all)


def knowledge_base_of(compiled: CompiledRuleBase, diagnostics: tuple[Diagnostic, ...] = (),
                      engine: RuleEngine | None = None, register_all: bool = True) -> KnowledgeBase:
    """The knowledge base of an already compiled rule base; with ``register_all``, every ruleset checked against
    durable's limits and registered now."""
    problems = check_nesting(compiled.rule_base)
    if problems:
        raise InputError(problems)
    knowledge_base = KnowledgeBase(compiled.rule_base, compiled, engine if engine is not None else DurableEngine(),
                                   diagnostics)
    if register_all:
        knowledge_base.register_all()
    return knowledge_base
