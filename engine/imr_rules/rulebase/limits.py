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

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from imr_rules.common.diagnostics import Diagnostic
from imr_rules.rulebase.compiler import CompiledRule, CompiledRuleBase, CompiledRuleset, origin_of
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
_SYMBOL = {"$eq": "==", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">=", "$neq": "!="}
_ARRAY = {"$iany", "$iall"}


class _Node:
    """One node of the modelled alpha network."""

    __slots__ = ("children", "creator", "equality", "forwards", "label", "readers", "users")

    def __init__(self, label: str, equality: str | None = None, creator: str = "") -> None:
        self.label = label
        self.creator = creator            # the rule whose pattern first needed this node
        self.children: dict[tuple[str, str, str, int], _Node] = {}
        self.forwards: list[_Node] = []
        self.users: list[str] = []        # rules whose pattern ends here
        self.readers: set[str] = set()    # rules with a test at or below this node (kept when asked for)
        self.equality = equality          # property of an equality test (for one fact, one value matches)

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
    """The alpha network durable builds for a ruleset's rules (``(name, {"all": [...]})`` pairs)."""

    def __init__(self, rules: Iterable[tuple[str, Mapping[str, Any]]], readers: bool = False) -> None:
        self.root = _Node("root")
        self._readers = readers
        for rule_name, rule in rules:
            for pattern in rule["all"]:
                (_, expression), = pattern.items()
                node = self.root
                for test in expression.get("$and", [expression]):
                    node = self._add(node, test, rule_name)
                node.users.append(rule_name)

    def _add(self, parent: _Node, test: dict[str, Any], rule: str) -> _Node:
        if self._readers:
            parent.readers.add(rule)
        if "$or" in test:
            forward = _Node("$or", creator=rule)
            for alternative in test["$or"]:
                self._add(parent, alternative, rule).forwards.append(forward)
            if self._readers:
                forward.readers.add(rule)
            return forward
        if "$and" in test:
            chained = parent
            for part in test["$and"]:
                chained = self._add(chained, part, rule)
            return chained
        op, prop, value = _test_parts(test)
        text = repr(value)
        key = (op, prop, text, 0 if op not in _ARRAY else len(parent.children) + 1)  # array tests are never shared
        found = parent.children.get(key)
        if found is None:
            joined = isinstance(value, dict) and op not in _ARRAY
            found = parent.children[key] = _Node(f"{prop} {_SYMBOL.get(op, op)} {text}",
                                                 prop if op == "$eq" and not joined else None, rule)
        node = found
        if self._readers:
            node.readers.add(rule)
        return node

    def facts(self) -> Iterator[tuple[str, _Node]]:
        """Each session fact's name (its ``n``) with the node its tests start from."""
        for kind in self.root.children.values():
            for name in kind.children.values():
                yield name.label.removeprefix("n == ").strip("'"), name

    def nodes(self) -> Iterator[_Node]:
        """Every node, parents first."""
        pending = [self.root]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(node.children.values())
            pending.extend(node.forwards)


def pattern_expressions(expression: Any) -> int:
    """How many entries a pattern writes in durable's expression list: 2 per $and/$or group, 1 per join."""
    if isinstance(expression, list):
        return sum(pattern_expressions(item) for item in expression)
    if not isinstance(expression, dict):
        return 0
    count = 0
    for key, value in expression.items():
        if key in ("$and", "$or"):
            count += 2 + pattern_expressions(value)
        elif key in _ARRAY:
            count += pattern_expressions(value)
        elif key in _COMPARISONS and isinstance(value, dict):
            count += sum(1 for operand in value.values() if isinstance(operand, dict)) + pattern_expressions(value)
    return count


@dataclass(frozen=True)
class Limit:
    """One of durable's limits: what is counted, the most it allows, what happens past it, what helps."""

    name: str
    maximum: int
    error: str
    hint: str


STACK = Limit("tests one fact passes at once", MATCH_STACK, "error 303 when such a fact is asserted",
              "split the topics testing this fact over more rulesets, or reuse the same thresholds and lists")
NODES = Limit("nodes under one node", CHILDREN, "registration never returns",
              "fewer topics, criteria or distinct tests per ruleset")
OR_LINKS = Limit("$or groups sharing a value", OR_GROUPS, "error 107 at registration",
                 "fewer 'in [..]' conditions naming the same value per ruleset")
USERS = Limit("patterns ending at one node", PATTERN_USERS, "error 108 at registration",
              "fewer rules per topic (criteria, groups, nesting) or fewer topics per ruleset")
PATTERNS = Limit("patterns per rule", PATTERNS_PER_RULE, "error 304 when the rule is tried",
                 "at most 15 criteria in a group, and conditions on at most 16 facts in one rule")
EXPRESSIONS = Limit("expressions per pattern", EXPRESSIONS_PER_PATTERN, "error 113 at registration",
                    "fewer 'in [..]' or fact-to-fact conditions on one fact in one rule")
RULES = Limit("rules per ruleset", RULES_PER_RULESET, "error 106 at registration", "fewer topics per ruleset")


@dataclass(frozen=True)
class Usage:
    """How close the rule base comes to one limit: the largest count found, where, and the limit."""

    limit: str
    largest: int
    maximum: int
    where: str
    error: str


Count = tuple[Limit, int, str, list[str]]
"""A measured count: the limit, the count, what was counted, and the rules behind it (names in the ruleset,
in the order they added to the count, so the one at index ``maximum`` is the first past the limit)."""


def _in_order(rules: Iterable[str]) -> list[str]:
    return sorted(rules, key=lambda name: int(name[1:]) if name[1:].isdigit() else -1)


def _network_counts(model: AlphaModel) -> list[Count]:
    counts: list[Count] = [(STACK, node.stack(), f"fact '{label}' may pass {node.stack()} tests at once",
                            _in_order(node.readers)) for label, node in model.facts()]
    for node in model.nodes():
        if node.children:
            counts.append((NODES, len(node.children), f"{len(node.children)} different tests follow '{node.label}'",
                           [child.creator for child in node.children.values()]))
        if node.forwards:
            counts.append((OR_LINKS, len(node.forwards), f"{len(node.forwards)} 'in' lists share '{node.label}'",
                           [forward.creator for forward in node.forwards]))
        if node.users:
            counts.append((USERS, len(node.users), f"{len(node.users)} patterns read '{node.label}'", node.users))
    return counts


def _rule_counts(rule: CompiledRule) -> list[tuple[Limit, int, str]]:
    patterns = rule.definition["all"]
    expressions = max((pattern_expressions(expression) for p in patterns for expression in p.values()), default=0)
    return [(PATTERNS, len(patterns), f"a rule with {len(patterns)} patterns"),
            (EXPRESSIONS, expressions, f"a pattern with {expressions} expressions")]


def _rule_origin(ruleset: CompiledRuleset, rule: str) -> Located:
    return origin_of(ruleset.actions[rule])


def _breach(ruleset: CompiledRuleset, count: Count) -> Diagnostic:
    """A diagnostic at the first rule past the limit (or the last of those behind the count)."""
    limit, _, text, rules = count
    where = _rule_origin(ruleset, rules[limit.maximum] if len(rules) > limit.maximum else rules[-1])
    routes = ", ".join(f"{r.service}/{r.region} from {r.period.start}" for r in ruleset.routes[:3])
    return Diagnostic(where.file, where.line, "durable limit",
                      f"{text}: durable allows {limit.maximum} ({limit.error}); ruleset for {routes}", limit.hint)


def _nesting(criterion: Criterion) -> int:
    return 0 if criterion.mode == "test" else 1 + max(_nesting(child) for child in criterion.children)


def check_nesting(rule_base: RuleBase) -> list[Diagnostic]:
    """Criterion groups nested deeper than ``MAX_NESTING``."""
    found = []
    for topic in rule_base.topics:
        for criterion in topic.criteria:
            if _nesting(criterion) > MAX_NESTING:
                found.append(Diagnostic(criterion.where.file, criterion.where.line, "durable limit",
                                        f"criterion {criterion.key} nests groups {_nesting(criterion)} deep; "
                                        f"at most {MAX_NESTING} are allowed",
                                        "flatten the any_of/all_of groups (each level adds rules reading the topic)"))
    return found


def ruleset_counts(ruleset: CompiledRuleset, rule_cache: dict[int, list[tuple[Limit, int, str]]] | None = None
                   ) -> list[Count]:
    """Every count of one ruleset that a durable limit bounds, with the rules behind each count passed."""
    rules = [(name, rule.definition) for name, rule in ruleset.rules]
    counts = _network_counts(AlphaModel(rules))
    if any(value > limit.maximum for limit, value, _, _ in counts if limit is STACK):
        counts = _network_counts(AlphaModel(rules, readers=True))  # again, noting which rules test each fact
    cache = rule_cache if rule_cache is not None else {}
    for name, rule in ruleset.rules:
        if id(rule) not in cache:
            cache[id(rule)] = _rule_counts(rule)
        counts += [(limit, value, text, [name]) for limit, value, text in cache[id(rule)]]
    total = len(ruleset.rules) + 1
    counts.append((RULES, total, f"{total} rules", [ruleset.rules[-1][0]] if ruleset.rules else []))
    return counts


def check_ruleset(ruleset: CompiledRuleset,
                  rule_cache: dict[int, list[tuple[Limit, int, str]]] | None = None) -> list[Diagnostic]:
    """Where one ruleset passes a limit, located in the rule files."""
    return [_breach(ruleset, count) for count in ruleset_counts(ruleset, rule_cache) if count[1] > count[0].maximum]


def check_limits(compiled: CompiledRuleBase) -> list[Diagnostic]:
    """Every place the compiled rule base would pass one of durable's limits, located in the rule files."""
    found = check_nesting(compiled.rule_base)
    cache: dict[int, list[tuple[Limit, int, str]]] = {}
    for ruleset in compiled.rulesets.values():
        found += check_ruleset(ruleset, cache)
    return list(dict.fromkeys(found))


def usage_report(compiled: CompiledRuleBase) -> list[Usage]:
    """For each limit, the largest count over all rulesets: how far the rule base is from it."""
    largest: dict[str, Usage] = {}
    cache: dict[int, list[tuple[Limit, int, str]]] = {}
    for ruleset in compiled.rulesets.values():
        for limit, value, text, _ in ruleset_counts(ruleset, cache):
            if limit.name not in largest or value > largest[limit.name].largest:
                largest[limit.name] = Usage(limit.name, value, limit.maximum, f"{ruleset.name}: {text}", limit.error)
    depth = max((_nesting(c) for t in compiled.rule_base.topics for c in t.criteria), default=0)
    extra = [Usage("criterion nesting depth", depth, MAX_NESTING, "", "authoring limit"),
             Usage("properties per session fact", SESSION_FACT_PROPERTIES, FACT_PROPERTIES, "",
                   "255 crashes the process")]
    widest = max(compiled.rulesets.values(), key=lambda r: len(r.topics), default=None)
    if widest is not None:
        extra.append(Usage("topics per ruleset", len(widest.topics), 0, widest.name,
                           "bounded by the node and pattern limits above"))
    return [*largest.values(), *extra]


def largest_counts(definition: dict[str, Any]) -> dict[str, int]:
    """For a ruleset definition (durable JSON), the largest count under each limit: what the model predicts."""
    rules = [(name, rule) for name, rule in definition.items() if name != "sentinel"]
    largest: dict[str, int] = {}
    counts = [(limit, value) for limit, value, _, _ in _network_counts(AlphaModel(rules))]
    for _, rule in rules:
        patterns = rule["all"]
        counts.append((PATTERNS, len(patterns)))
        counts.append((EXPRESSIONS, max((pattern_expressions(e) for p in patterns for e in p.values()), default=0)))
    counts.append((RULES, len(definition)))
    for limit, value in counts:
        largest[limit.name] = max(largest.get(limit.name, 0), value)
    return largest


def passed(definition: dict[str, Any]) -> list[str]:
    """The limits a ruleset definition passes, by name (empty: durable should accept and run it)."""
    maxima = {limit.name: limit.maximum for limit in (STACK, NODES, OR_LINKS, USERS, PATTERNS, EXPRESSIONS, RULES)}
    return sorted(name for name, value in largest_counts(definition).items() if value > maxima[name])
