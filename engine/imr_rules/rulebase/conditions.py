"""The condition language of rule files, one condition per line, readable by a clinician.

    prior.functional_improvement is present        red_flag.myelopathy is absent
    surgery.months_since <= 6                       item.visits_requested > postsurgical.initial_course
    surgery.procedure in [cervical_fusion, lumbar_fusion]
    diagnosis.categories contains crps              diagnosis.categories lacks crps
    surgery.on_region is not documented

A right-hand side with a dot is another fact (the rule joins the two); otherwise it is a literal.
Conclusions may be a literal or a sum/difference of facts and numbers: ``a.b - c.d``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

Literal_ = Union[int, float, str]

COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
FINDING_TESTS = {
    "is present": "present", "is absent": "absent", "is documented": "documented",
    "is not documented": "not_documented",
}
LIST_TESTS = ("not in", "in", "contains", "lacks")
NEGATION = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==", "in": "not in",
            "not in": "in", "contains": "lacks", "lacks": "contains", "present": "absent",
            "absent": "present"}
FACT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
WORD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


class ConditionSyntaxError(ValueError):
    """A condition or expression that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class FactRef:
    """A reference to another fact on the right-hand side of a comparison."""

    name: str


Operand = Union[Literal_, FactRef, tuple[str, ...], None]


@dataclass(frozen=True)
class Condition:
    """One parsed test: ``fact op operand``. Finding tests have op present/absent/documented/not_documented."""

    fact: str
    op: str
    operand: Operand
    text: str

    @property
    def facts_read(self) -> tuple[str, ...]:
        """Every fact name the condition reads."""
        if isinstance(self.operand, FactRef):
            return (self.fact, self.operand.name)
        return (self.fact,)

    def negated_op(self) -> str:
        """The operator that holds exactly when this one fails on documented values."""
        return NEGATION[self.op]


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


def parse_condition(text: str) -> Condition:
    """Parse one condition; raise ``ConditionSyntaxError`` saying what was expected."""
    source = " ".join(str(text).split())
    for phrase, op in FINDING_TESTS.items():
        if source.endswith(" " + phrase):
            return Condition(_fact_name(source[: -len(phrase) - 1]), op, None, source)
    for op in LIST_TESTS:
        match = re.match(rf"^(\S+) {op} (.+)$", source)
        if match:
            fact, rest = _fact_name(match.group(1)), match.group(2).strip()
            if op in ("in", "not in"):
                if not (rest.startswith("[") and rest.endswith("]")):
                    raise ConditionSyntaxError(f"'{op}' needs a list in brackets, e.g. [a, b]")
                values = tuple(str(_literal(v)) for v in rest[1:-1].split(",") if v.strip())
                if not values:
                    raise ConditionSyntaxError("the list is empty")
                return Condition(fact, op, values, source)
            return Condition(fact, op, str(_literal(rest)), source)
    for op in COMPARISONS:
        parts = source.split(f" {op} ")
        if len(parts) == 2:
            left, right = parts[0].strip(), parts[1].strip()
            operand: Operand = FactRef(_fact_name(right)) if FACT_NAME.match(right) else _literal(right)
            return Condition(_fact_name(left), op, operand, source)
    raise ConditionSyntaxError(
        "expected '<fact> is present|is absent|is documented|is not documented', "
        "'<fact> <op> <value>' with op one of " + " ".join(COMPARISONS)
        + ", '<fact> in [..]', or '<fact> contains|lacks <word>'")


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
