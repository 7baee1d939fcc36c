"""durable_rules' limits, and a model of the network a ruleset builds, so ``validate`` can locate a breach.

durable_rules 2.0.28 refuses some rulesets only when they are registered (errors 106-113) and others only
when a fact is asserted (303, 304); past 511 nodes under one node it never returns at all. Each limit below
was measured on the library (see ``tests/test_limits.py`` and the README); the model mirrors how the
library builds its alpha network from a ruleset's JSON: a pattern's tests become a chain of nodes, shared
between patterns when the same test follows the same node, except array tests (``$iany``/``$iall``) and
``$or`` groups, which get nodes of their own. From the model come, per ruleset:

- the tests one fact can pass at once (the depth of durable's matching stack, at most 64, else 303);
- the nodes under one node (at most 511; at 512 registration and matching loop forever);
- the ``$or`` groups that share one alternative (at most 128, else 107);
- the patterns ending at one node (at most 256, else 108): e.g. every rule of a topic reads its topic fact;
- the patterns of one rule (at most 16, else 304 when the rule is tried);
- the expressions of one pattern (at most 31, else 113);
- the rules of one ruleset (at most 4,096, else 106).
A fact in a session has 6 properties (id, t, n, s, v, sid): durable allows 254 (255 crashes the process).
Criterion groups may nest at most ``MAX_NESTING`` deep: an authoring limit, since every level adds rules
that all read the topic fact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from imr_rules.common.diagnostics import Diagnostic
from imr_rules.rulebase.compiler import Action, CompiledRuleBase, CompiledRuleset, origin_of
from imr_rules.rulebase.model import Criterion, Located, RuleBase

MATCH_STACK = 64
CHILDREN = 511
OR_GROUPS = 128
PATTERN_USERS = 256
PATTERNS_PER_RULE = 16
EXPRESSIONS_PER_PATTERN = 31
RULES_PER_RULESET = 4096
FACT_PROPERTIES = 254
SESSION_FACT_PROPERTIES = 6
MAX_NESTING = 8

_COMPARISONS = {"$lt", "$lte", "$gt", "$gte", "$neq"}
_ARRAY = {"$iany", "$iall"}


@dataclass
class _Node:
    """One node of the modelled alpha network."""

    label: str
    children: dict[str, _Node] = field(default_factory=dict)
    forwards: list[_Node] = field(default_factory=list)
    users: list[str] = field(default_factory=list)       # rules whose pattern ends here
    readers: set[str] = field(default_factory=set)       # rules with a test at or below this node
    equality: str | None = None                          # property of an equality test (one value matches)

    def child(self, key: str, label: str, equality: str | None, shared: bool) -> _Node:
        key = key if shared else f"{key}#{len(self.children)}"
        node = self.children.get(key)
        if node is None:
            node = self.children[key] = _Node(label, equality=equality)
        return node

    def stack(self) -> int:
        """Most nodes durable's matching stack can hold below here for one fact (all tests may pass)."""
        nodes = [*self.children.values(), *self.forwards]
        if not nodes:
            return 0
        equal_properties = {n.equality for n in self.children.values() if n.equality is not None}
        pushed = len(self.forwards) + len(equal_properties)
        pushed += sum(1 for n in self.children.values() if n.equality is None)
        return max(pushed, pushed - 1 + max(n.stack() for n in nodes))


def _test_parts(test: dict[str, Any]) -> tuple[str, str, Any]:
    """(operator, property, value) of one simple test."""
    (key, value), = test.items()
    if key in _COMPARISONS or key in _ARRAY:
        (prop, operand), = value.items()
        return key, prop, operand
    return "$eq", key, value


class AlphaModel:
    """The alpha network durable builds for a ruleset, and the counts its limits bound."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.root = _Node("root")
        self.patterns: dict[str, int] = {}
        self.expressions: dict[str, int] = {}
        for rule_name, rule in definition.items():
            if rule_name == "sentinel":
                continue
            self.patterns[rule_name] = len(rule["all"])
            for pattern in rule["all"]:
                (_, expression), = pattern.items()
                tests = expression.get("$and", [expression])
                self.expressions[rule_name] = max(self.expressions.get(rule_name, 0), _expressions(expression))
                node = self.root
                for test in tests:
                    node = self._add(node, test, rule_name)
                node.users.append(rule_name)

    def _add(self, parent: _Node, test: dict[str, Any], rule: str) -> _Node:
        parent.readers.add(rule)
        if "$or" in test:
            forward = _Node("$or")
            for alternative in test["$or"]:
                self._add(parent, alternative, rule).forwards.append(forward)
            forward.readers.add(rule)
            return forward
        if "$and" in test:
            node = parent
            for part in test["$and"]:
                node = self._add(node, part, rule)
            return node
        op, prop, value = _test_parts(test)
        joined = isinstance(value, dict) and op not in _ARRAY
        text = json.dumps(value, sort_keys=True)
        node = parent.child(f"{op} {prop} {text}", f"{prop} {op} {text}",
                            prop if op == "$eq" and not joined else None, shared=op not in _ARRAY)
        node.readers.add(rule)
        return node

    def facts(self) -> Iterator[tuple[str, _Node]]:
        """Each kind of session fact (``t``) and name (``n``) with the node its tests start from."""
        for kind in self.root.children.values():
            for name in kind.children.values():
                yield f"{kind.label} {name.label}", name

    def nodes(self) -> Iterator[_Node]:
        """Every node, parents first."""
        pending = [self.root]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(node.children.values())
            pending.extend(node.forwards)


def _expressions(expression: Any) -> int:
    """How many entries a pattern writes in durable's expression list: 2 per $and/$or group, 1 per join."""
    if isinstance(expression, list):
        return sum(_expressions(item) for item in expression)
    if not isinstance(expression, dict):
        return 0
    count = 0
    for key, value in expression.items():
        if key in ("$and", "$or"):
            count += 2 + _expressions(value)
        elif key in _ARRAY:
            count += _expressions(value)
        elif key in _COMPARISONS and isinstance(value, dict):
            count += sum(1 for operand in value.values() if isinstance(operand, dict)) + _expressions(value)
    return count


@dataclass(frozen=True)
class Usage:
    """How close the rule base comes to one limit: the largest count found, where, and the limit."""

    limit: str
    largest: int
    maximum: int
    where: str
    error: str


def _rule_origin(ruleset: CompiledRuleset, rule: str) -> Located:
    action: Action = ruleset.actions[rule]
    return origin_of(action)


def _breach(ruleset: CompiledRuleset, rules: list[str], message: str, hint: str) -> Diagnostic:
    """A diagnostic at the last rule (in ruleset order) of those that together pass a limit."""
    ordered = sorted(rules, key=lambda name: int(name[1:]))
    where = _rule_origin(ruleset, ordered[-1])
    routes = ", ".join(f"{r.service}/{r.region} from {r.period.start}" for r in ruleset.routes[:3])
    return Diagnostic(where.file, where.line, "durable limit", f"{message} (ruleset for {routes})", hint)


def _nesting(criterion: Criterion) -> int:
    return 0 if criterion.mode == "test" else 1 + max(_nesting(child) for child in criterion.children)


def check_nesting(rule_base: RuleBase) -> list[Diagnostic]:
    """Criterion groups nested deeper than ``MAX_NESTING``."""
    found = []
    for topic in rule_base.topics:
        for criterion in topic.all_criteria():
            if _nesting(criterion) > MAX_NESTING:
                found.append(Diagnostic(criterion.where.file, criterion.where.line, "durable limit",
                                        f"criterion {criterion.key} nests groups {_nesting(criterion)} deep; "
                                        f"at most {MAX_NESTING} are allowed",
                                        "flatten the any_of/all_of groups (each level adds rules reading the topic)"))
                break
    return found


def ruleset_usage(ruleset: CompiledRuleset) -> tuple[list[Usage], list[Diagnostic]]:
    """The counts of one ruleset against each durable limit, and a diagnostic for each limit passed."""
    model = AlphaModel(ruleset.definition)
    usages: list[Usage] = []
    found: list[Diagnostic] = []

    def measure(limit: str, counts: list[tuple[int, list[str], str]], maximum: int, error: str, hint: str) -> None:
        if not counts:
            return
        largest, _rules, what = max(counts, key=lambda entry: entry[0])
        usages.append(Usage(limit, largest, maximum, f"{ruleset.name}: {what}", error))
        for count, users, text in counts:
            if count > maximum:
                found.append(_breach(ruleset, users, f"{text}: {count}, durable allows {maximum} ({error})", hint))

    measure("tests one fact passes at once", [(node.stack(), sorted(node.readers), f"fact {label} may pass "
             f"{node.stack()} tests at once") for label, node in model.facts()], MATCH_STACK,
            "error 303 when such a fact is asserted",
            "split the topics testing this fact over more rulesets, or reuse the same thresholds and lists")
    measure("nodes under one node", [(len(node.children), sorted(node.readers), f"{len(node.children)} different "
             f"tests follow '{node.label}'") for node in model.nodes() if node.children], CHILDREN,
            "registration never returns", "fewer topics, criteria or distinct tests per ruleset")
    measure("$or groups sharing a value", [(len(node.forwards), sorted(node.readers), f"{len(node.forwards)} 'in' "
             f"lists share '{node.label}'") for node in model.nodes() if node.forwards], OR_GROUPS,
            "error 107 at registration", "fewer 'in [..]' conditions naming the same value per ruleset")
    measure("patterns ending at one node", [(len(node.users), node.users, f"{len(node.users)} patterns read "
             f"'{node.label}'") for node in model.nodes() if node.users], PATTERN_USERS,
            "error 108 at registration", "fewer rules per topic (criteria, groups) or fewer topics per ruleset")
    measure("patterns per rule", [(count, [rule], f"a rule with {count} patterns")
                                  for rule, count in model.patterns.items()], PATTERNS_PER_RULE,
            "error 304 when the rule is tried", "at most 15 criteria per group and 16 facts per rule's conditions")
    measure("expressions per pattern", [(count, [rule], f"a pattern with {count} expressions")
                                        for rule, count in model.expressions.items()], EXPRESSIONS_PER_PATTERN,
            "error 113 at registration", "fewer 'in [..]' or fact-to-fact conditions on one fact in one rule")
    rules = len(ruleset.actions) + 1
    measure("rules per ruleset", [(rules, list(ruleset.actions)[-1:], f"{rules} rules")], RULES_PER_RULESET,
            "error 106 at registration", "fewer topics per ruleset")
    return usages, found


def check_limits(compiled: CompiledRuleBase) -> list[Diagnostic]:
    """Every place the compiled rule base would pass one of durable's limits, located in the rule files."""
    found = check_nesting(compiled.rule_base)
    for ruleset in compiled.rulesets.values():
        found += ruleset_usage(ruleset)[1]
    return list(dict.fromkeys(found))


def usage_report(compiled: CompiledRuleBase) -> list[Usage]:
    """For each limit, the largest count over all rulesets: how far the rule base is from it."""
    largest: dict[str, Usage] = {}
    for ruleset in compiled.rulesets.values():
        for usage in ruleset_usage(ruleset)[0]:
            if usage.limit not in largest or usage.largest > largest[usage.limit].largest:
                largest[usage.limit] = usage
    topics = max(compiled.rulesets.values(), key=lambda r: len(r.topics), default=None)
    extra = [Usage("criterion nesting depth", max((_nesting(c) for t in compiled.rule_base.topics
                                                   for c in t.criteria), default=0), MAX_NESTING, "",
                   "authoring limit"),
             Usage("properties per session fact", SESSION_FACT_PROPERTIES, FACT_PROPERTIES, "",
                   "255 crashes the process")]
    if topics is not None:
        extra.append(Usage("topics per ruleset", len(topics.topics), 0, topics.name,
                           "bounded by the node and pattern limits above"))
    return [*largest.values(), *extra]
