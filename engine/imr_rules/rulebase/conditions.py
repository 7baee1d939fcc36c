"""The condition language of rule files, one condition per line, readable by a clinician.

    prior.functional_improvement is present        red_flag.myelopathy is absent
    surgery.months_since <= 6                       item.visits_requested > postsurgical.initial_course
    surgery.procedure in [cervical_fusion, lumbar_fusion]
    diagnosis.categories contains crps              diagnosis.categories lacks crps
    diagnosis.categories contains any of [crps, neuralgia_neuritis_radiculitis]
    item.ingredients contains none of [gabapentin, baclofen]
    surgery.on_region is not documented

A right-hand side with a dot is another fact (the rule joins the two); otherwise it is a literal.
Conclusions may be a literal or a sum/difference of facts and numbers: ``a.b - c.d``.

Every operator is one entry of ``OPERATORS`` and owns everything about itself: how it is written and
parsed, which facts and operands it accepts, its negation, the durable_rules tests it compiles to, how it
narrows the values a fact can take (the contradiction check) and the values worth trying in a what-if.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, Union

Literal_ = Union[int, float, str]
Pattern = dict[str, Any]

FACT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
WORD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


class ConditionSyntaxError(ValueError):
    """A condition or expression that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class FactRef:
    """A reference to another fact on the right-hand side of a comparison."""

    name: str


Operand = Union[Literal_, FactRef, tuple[str, ...], None]


class FactKind(Protocol):
    """What an operator needs to know of a fact to check a condition: its kind and allowed values."""

    @property
    def kind(self) -> str:
        """finding, number, enum, list or date."""

    @property
    def values(self) -> tuple[str, ...] | None:
        """The values it may take (None: not restricted)."""


@dataclass(frozen=True)
class Condition:
    """One parsed test: ``fact op operand``. Finding tests have op present/absent/documented/not_documented."""

    fact: str
    op: str
    operand: Operand
    text: str

    @property
    def operator(self) -> Operator:
        """The operator's entry in the registry."""
        return OPERATORS[self.op]

    @property
    def facts_read(self) -> tuple[str, ...]:
        """Every fact name the condition reads."""
        if isinstance(self.operand, FactRef):
            return (self.fact, self.operand.name)
        return (self.fact,)

    def negated_op(self) -> str:
        """The operator that holds exactly when this one fails on documented values."""
        negation = self.operator.negation
        if negation is None:
            raise ValueError(f"'{self.op}' has no negation on documented values")
        return negation


# ---- values a fact may take, narrowed by conditions: the contradiction check ---------------------------
@dataclass
class ValueDomain:
    """The values one fact can still take under a list of conditions; ``conflict`` says when none is left."""

    fact: str
    texts: list[str] = field(default_factory=list)
    ops: set[str] = field(default_factory=set)
    low: float = -math.inf
    high: float = math.inf
    allowed: set[str] | None = None
    excluded: set[str] = field(default_factory=set)
    findings: set[str] = field(default_factory=set)
    contained: set[str] = field(default_factory=set)
    lacked: set[str] = field(default_factory=set)
    one_of: list[frozenset[str]] = field(default_factory=list)

    def allow(self, values: set[str]) -> None:
        """Only ``values`` remain possible."""
        self.allowed = set(values) if self.allowed is None else self.allowed & values

    def conflict(self) -> str | None:
        """Why no value satisfies every condition applied, or None."""
        if "not_documented" in self.ops and len(self.ops) > 1:
            return f"'{self.fact}' cannot be both not documented and tested for a value"
        if {"present", "absent"} <= self.findings:
            return f"'{self.fact}' cannot be both present and absent"
        if self.low > self.high or (self.allowed is not None and not self.allowed - self.excluded):
            return f"no value of '{self.fact}' satisfies {' and '.join(self.texts)}"
        if self.contained & self.lacked:
            return f"'{self.fact}' cannot both contain and lack the same value"
        for words in self.one_of:
            if words <= self.lacked:
                return f"'{self.fact}' cannot contain any of {', '.join(sorted(words))} while lacking all of them"
        return None


# ---- the operators ------------------------------------------------------------------------------------
Check = Callable[[Condition, FactKind, Union[FactKind, None]], Union[tuple[str, str], None]]
Narrow = Callable[[ValueDomain, Operand], None]


@dataclass(frozen=True)
class Operator:
    """One operator of the condition language.

    ``phrase`` is how a rule file writes it; ``operand`` what follows it ("none", "value", "word" or
    "list"); ``negation`` the operator holding exactly when this one fails on a documented value;
    ``tests`` the durable_rules tests on a fact's value ``v`` (``join`` names the pattern of a fact
    operand); ``narrow`` restricts a ``ValueDomain``; ``check`` returns (message, hint) for a condition
    that does not fit its fact.
    """

    name: str
    phrase: str
    operand: str
    negation: str | None
    tests: Callable[[Operand, str | None], list[Pattern]]
    narrow: Narrow
    check: Check

    def literals(self, operand: Operand) -> list[Literal_]:
        """The literal values a condition with this operator names (what-if candidates)."""
        if operand is None or isinstance(operand, FactRef):
            return []
        if isinstance(operand, tuple):
            return list(operand)
        return [operand]


def _no_check(condition: Condition, spec: FactKind, other: FactKind | None) -> tuple[str, str] | None:
    return None


def _check_finding(condition: Condition, spec: FactKind, other: FactKind | None) -> tuple[str, str] | None:
    if spec.kind != "finding":
        return f"'{condition.fact}' is a {spec.kind}, not a finding", "use a comparison instead of 'is present'"
    return None


def _check_order(condition: Condition, spec: FactKind, other: FactKind | None) -> tuple[str, str] | None:
    if spec.kind not in ("number", "date"):
        return f"'{condition.fact}' is a {spec.kind}; '{condition.op}' needs a number", "compare with == or in [..]"
    operand = condition.operand
    if isinstance(operand, FactRef):
        if other is not None and other.kind not in ("number", "date"):
            return f"'{operand.name}' is not a number", "compare numbers with numbers"
    elif not isinstance(operand, (int, float)):
        return f"'{operand}' is not a number", "write a number on the right of the comparison"
    return None


def _check_list(condition: Condition, spec: FactKind, other: FactKind | None) -> tuple[str, str] | None:
    if spec.kind != "list":
        return f"'{condition.fact}' is a {spec.kind}, not a list", "use == or in [..]"
    return check_values(condition, spec)


def check_values(condition: Condition, spec: FactKind) -> tuple[str, str] | None:
    """Every literal a condition names must be a value of its fact (a finding is present or absent)."""
    operand = condition.operand
    if isinstance(operand, FactRef) or operand is None:
        return None
    allowed = ("present", "absent") if spec.kind == "finding" and condition.op in ("==", "!=") else spec.values
    if spec.kind in ("number", "date") or allowed is None:
        return None
    for value in operand if isinstance(operand, tuple) else (str(operand),):
        if value not in allowed:
            match = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
            hint = f"did you mean '{match[0]}'?" if match else "one of: " + ", ".join(allowed)
            return f"'{value}' is not a value of '{condition.fact}'", hint
    return None


def _check_value_of_fact(condition: Condition, spec: FactKind, other: FactKind | None) -> tuple[str, str] | None:
    return check_values(condition, spec)


def _target(operand: Operand, join: str | None) -> Any:
    return {join: "v"} if join else operand


def _compare(durable_op: str) -> Callable[[Operand, str | None], list[Pattern]]:
    return lambda operand, join: [{durable_op: {"v": _target(operand, join)}}]


def _words(operand: Operand) -> tuple[str, ...]:
    return operand if isinstance(operand, tuple) else (str(operand),)


def _contains_any(operand: Operand, join: str | None) -> list[Pattern]:
    """One ``$iany`` per word, under ``$or`` when there are several.

    Never ``$or`` inside ``$iany``: durable 2.0.28 then reads a field it never set on the node it makes for
    the ``$or`` (``createForwardAlpha`` leaves ``right.type`` unset) and refuses the ruleset with error 102
    now and then, depending on what the memory held (seen once in a full test run).
    """
    words = _words(operand)
    if len(words) == 1:
        return [{"$iany": {"v": {"$i": words[0]}}}]
    return [{"$or": [{"$iany": {"v": {"$i": word}}} for word in words]}]


def _contains_none(operand: Operand, join: str | None) -> list[Pattern]:
    words = _words(operand)
    if len(words) == 1:
        return [{"$iall": {"v": {"$neq": {"$i": words[0]}}}}]
    return [{"$iall": {"v": {"$and": [{"$neq": {"$i": word}} for word in words]}}}]


def _narrow_order(op: str) -> Narrow:
    def narrow(domain: ValueDomain, operand: Operand) -> None:
        if isinstance(operand, (int, float)):
            value = float(operand)
            if op in (">", ">="):
                domain.low = max(domain.low, value + (1e-9 if op == ">" else 0))
            else:
                domain.high = min(domain.high, value - (1e-9 if op == "<" else 0))
    return narrow


def _narrow_equal(domain: ValueDomain, operand: Operand) -> None:
    if isinstance(operand, (int, float)):
        domain.low, domain.high = max(domain.low, float(operand)), min(domain.high, float(operand))
    elif not isinstance(operand, FactRef):
        domain.allow(set(_words(operand)))


def _narrow_in(domain: ValueDomain, operand: Operand) -> None:
    domain.allow(set(_words(operand)))


def _narrow_excluded(domain: ValueDomain, operand: Operand) -> None:
    if not isinstance(operand, FactRef):
        domain.excluded |= {str(word) for word in _words(operand)}


def _narrow_not_in(domain: ValueDomain, operand: Operand) -> None:
    domain.excluded |= set(_words(operand))


def _narrow_finding(state: str) -> Narrow:
    return lambda domain, operand: domain.findings.add(state)


def _narrow_nothing(domain: ValueDomain, operand: Operand) -> None:
    return None  # whether a fact is documented is checked on the operators applied (ValueDomain.ops)


def _narrow_contains(domain: ValueDomain, operand: Operand) -> None:
    words = frozenset(_words(operand))
    if len(words) == 1:
        domain.contained |= words
    else:
        domain.one_of.append(words)


def _narrow_lacks(domain: ValueDomain, operand: Operand) -> None:
    domain.lacked |= set(_words(operand))


def _finding_tests(state: str) -> Callable[[Operand, str | None], list[Pattern]]:
    return lambda operand, join: [{"v": state}]


def _no_tests(operand: Operand, join: str | None) -> list[Pattern]:
    return []  # documentation status only: the pattern's status test says it


def _in_tests(operand: Operand, join: str | None) -> list[Pattern]:
    return [{"$or": [{"v": value} for value in _words(operand)]}]


def _not_in_tests(operand: Operand, join: str | None) -> list[Pattern]:
    return [{"$neq": {"v": value}} for value in _words(operand)]


REGISTRY: tuple[Operator, ...] = (
    Operator("present", "is present", "none", "absent", _finding_tests("present"), _narrow_finding("present"),
             _check_finding),
    Operator("absent", "is absent", "none", "present", _finding_tests("absent"), _narrow_finding("absent"),
             _check_finding),
    Operator("documented", "is documented", "none", None, _no_tests, _narrow_nothing,
             _no_check),
    Operator("not_documented", "is not documented", "none", None, _no_tests,
             _narrow_nothing, _no_check),
    Operator("not in", "not in", "list", "in", _not_in_tests, _narrow_not_in, _check_value_of_fact),
    Operator("in", "in", "list", "not in", _in_tests, _narrow_in, _check_value_of_fact),
    Operator("contains any of", "contains any of", "list", "contains none of", _contains_any, _narrow_contains,
             _check_list),
    Operator("contains none of", "contains none of", "list", "contains any of", _contains_none, _narrow_lacks,
             _check_list),
    Operator("contains", "contains", "word", "lacks", _contains_any, _narrow_contains, _check_list),
    Operator("lacks", "lacks", "word", "contains", _contains_none, _narrow_lacks, _check_list),
    Operator("<=", "<=", "value", ">", _compare("$lte"), _narrow_order("<="), _check_order),
    Operator(">=", ">=", "value", "<", _compare("$gte"), _narrow_order(">="), _check_order),
    Operator("==", "==", "value", "!=", lambda operand, join: [{"v": _target(operand, join)}], _narrow_equal,
             _check_value_of_fact),
    Operator("!=", "!=", "value", "==", _compare("$neq"), _narrow_excluded, _check_value_of_fact),
    Operator("<", "<", "value", ">=", _compare("$lt"), _narrow_order("<"), _check_order),
    Operator(">", ">", "value", "<=", _compare("$gt"), _narrow_order(">"), _check_order),
)
"""Every operator, in the order a condition is tried against them (longer phrases first)."""

OPERATORS: dict[str, Operator] = {operator.name: operator for operator in REGISTRY}


# ---- parsing ------------------------------------------------------------------------------------------
def _literal(token: str) -> Literal_:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        pass
    if not WORD.match(token):
        raise ConditionSyntaxError(f"'{token}' is not a number, a word or a quoted string")
    return token


def _fact_name(token: str) -> str:
    if not FACT_NAME.match(token):
        raise ConditionSyntaxError(f"'{token}' is not a fact name (expected a dotted name like prior.visits_completed)")
    return token


def _list(operator: Operator, rest: str) -> tuple[str, ...]:
    if not (rest.startswith("[") and rest.endswith("]")):
        raise ConditionSyntaxError(f"'{operator.phrase}' needs a list in brackets, e.g. [a, b]")
    values = tuple(str(_literal(v)) for v in rest[1:-1].split(",") if v.strip())
    if not values:
        raise ConditionSyntaxError("the list is empty")
    return values


def _parse_with(operator: Operator, source: str) -> Condition | None:
    """``source`` read with ``operator``, or None when it is not written with it."""
    if operator.operand == "none":
        if source.endswith(" " + operator.phrase):
            return Condition(_fact_name(source[: -len(operator.phrase) - 1]), operator.name, None, source)
        return None
    if operator.operand == "value":
        parts = source.split(f" {operator.phrase} ")
        if len(parts) != 2:
            return None
        left, right = parts[0].strip(), parts[1].strip()
        operand: Operand = FactRef(_fact_name(right)) if FACT_NAME.match(right) else _literal(right)
        return Condition(_fact_name(left), operator.name, operand, source)
    match = re.match(rf"^(\S+) {operator.phrase} (.+)$", source)
    if not match:
        return None
    fact, rest = _fact_name(match.group(1)), match.group(2).strip()
    if operator.operand == "list":
        return Condition(fact, operator.name, _list(operator, rest), source)
    return Condition(fact, operator.name, str(_literal(rest)), source)


def parse_condition(text: str) -> Condition:
    """Parse one condition; raise ``ConditionSyntaxError`` saying what was expected."""
    source = " ".join(str(text).split())
    for operator in REGISTRY:
        condition = _parse_with(operator, source)
        if condition is not None:
            return condition
    comparisons = " ".join(o.phrase for o in REGISTRY if o.operand == "value")
    raise ConditionSyntaxError(
        "expected '<fact> is present|is absent|is documented|is not documented', "
        f"'<fact> <op> <value>' with op one of {comparisons}, '<fact> in [..]', '<fact> not in [..]', "
        "'<fact> contains|lacks <word>', or '<fact> contains any of|contains none of [..]'")


def contradiction(conditions: list[Condition]) -> str | None:
    """Why ``conditions`` can never all hold on one item, or None if they can (comparisons with facts aside)."""
    domains: dict[str, ValueDomain] = {}
    for condition in conditions:
        if isinstance(condition.operand, FactRef):
            continue
        domain = domains.setdefault(condition.fact, ValueDomain(condition.fact))
        domain.texts.append(condition.text)
        domain.ops.add(condition.op)
        condition.operator.narrow(domain, condition.operand)
    for domain in domains.values():
        reason = domain.conflict()
        if reason:
            return reason
    return None


# ---- conclusions --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expression:
    """A conclusion value: a literal, or a signed sum of facts and numbers."""

    literal: Literal_ | None
    terms: tuple[tuple[int, str | float], ...]

    @property
    def facts_read(self) -> tuple[str, ...]:
        """The fact names the expression reads."""
        return tuple(t for _, t in self.terms if isinstance(t, str))

    def evaluate(self, values: dict[str, float]) -> Literal_:
        """Compute the value from the documented values of the facts read."""
        if self.literal is not None:
            return self.literal
        total = 0.0
        for sign, term in self.terms:
            total += sign * (values[term] if isinstance(term, str) else term)
        return int(total) if total == int(total) else total


def parse_expression(value: object) -> Expression:
    """Parse a conclusion: a number, a word, or ``a.b + c.d - 2``."""
    if isinstance(value, bool) or value is None:
        raise ConditionSyntaxError("a conclusion must be a number, a word or a sum of facts")
    if isinstance(value, (int, float)):
        return Expression(value, ())
    text = " ".join(str(value).split())
    tokens = re.split(r"\s*([+-])\s*", text)
    if len(tokens) == 1 and not FACT_NAME.match(text):
        return Expression(_literal(text), ())
    terms: list[tuple[int, str | float]] = []
    sign = 1
    for index, token in enumerate(tokens):
        if index % 2 == 1:
            sign = 1 if token == "+" else -1
            continue
        if not token:
            raise ConditionSyntaxError(f"incomplete expression '{text}'")
        if FACT_NAME.match(token):
            terms.append((sign, token))
        else:
            number = _literal(token)
            if not isinstance(number, (int, float)):
                raise ConditionSyntaxError(f"'{token}' in '{text}' is neither a fact nor a number")
            terms.append((sign, float(number)))
    return Expression(None, tuple(terms))
