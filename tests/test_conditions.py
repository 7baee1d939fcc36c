"""The condition language: one registry of operators, each owning its parsing, type check, negation, durable
tests, contradiction check and what-if values; ``contains any of`` / ``contains none of`` on list facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imr_rules.cases.model import Case
from imr_rules.engine.durable_adapter import DurableEngine
from imr_rules.rulebase.compiler import _Patterns
from imr_rules.rulebase.conditions import OPERATORS, REGISTRY, ConditionSyntaxError, contradiction, parse_condition
from imr_rules.rulebase.templates import TEMPLATE_FIELD, fill, template_fields

from .conftest import RULES, load, run_cli

INGREDIENTS = RULES / "medications" / "topical_ingredients.yaml"


@pytest.mark.parametrize(("text", "op", "operand"), [
    ("a.b contains any of [x, y]", "contains any of", ("x", "y")),
    ("a.b contains none of [x]", "contains none of", ("x",)),
    ("a.b contains x", "contains", "x"),
    ("a.b lacks x", "lacks", "x"),
    ("a.b not in [x, y]", "not in", ("x", "y")),
    ("a.b in [x]", "in", ("x",)),
    ("a.b is not documented", "not_documented", None),
    ("a.b <= 3", "<=", 3),
])
def test_each_operator_parses_its_own_phrase(text: str, op: str, operand: Any) -> None:
    condition = parse_condition(text)
    assert (condition.fact, condition.op, condition.operand) == ("a.b", op, operand)
    assert condition.operator is OPERATORS[op]


@pytest.mark.parametrize("text", ["a.b contains any of x, y", "a.b contains any of []", "a.b contains any of"])
def test_contains_any_of_needs_a_list(text: str) -> None:
    with pytest.raises(ConditionSyntaxError):
        parse_condition(text)


def test_every_negation_is_an_operator_whose_negation_comes_back() -> None:
    for operator in REGISTRY:
        if operator.negation is not None:
            assert OPERATORS[operator.negation].negation == operator.name


@pytest.mark.parametrize(("conditions", "impossible"), [
    (["a.b contains any of [x, y]", "a.b contains none of [x, y]"], True),
    (["a.b contains any of [x, y]", "a.b lacks x", "a.b lacks y"], True),
    (["a.b contains any of [x, y]", "a.b lacks x"], False),
    (["a.b contains none of [x, y]", "a.b contains y"], True),
    (["a.b contains none of [x, y]", "a.b contains z"], False),
])
def test_contradictions_of_the_list_operators(conditions: list[str], impossible: bool) -> None:
    assert (contradiction([parse_condition(c) for c in conditions]) is not None) is impossible


@pytest.mark.parametrize(("value", "any_of", "none_of"), [
    (["a"], True, False), (["b", "z"], True, False), (["z"], False, True), (["c", "d"], False, True),
])
def test_the_durable_tests_hold_exactly_as_the_operator_says(value: list[str], any_of: bool, none_of: bool) -> None:
    definition: dict[str, Any] = {"sentinel": {"all": [{"m": {"t": "sentinel"}}]}}
    for name in ("contains any of", "contains none of"):
        patterns = _Patterns()
        condition = parse_condition(f"x.y {name} [a, b]")
        patterns.condition(condition, condition.op)
        definition[name.replace(" ", "_")] = patterns.rule(None).definition  # type: ignore[arg-type]
    engine = DurableEngine()
    engine.register(f"conditions_{'_'.join(value)}", definition)
    fired: list[str] = []
    engine.run(f"conditions_{'_'.join(value)}", [{"id": "f", "t": "f", "n": "x.y", "s": "d", "v": value}],
               lambda rule, message, assert_fact: fired.append(rule))
    assert ("contains_any_of" in fired, "contains_none_of" in fired) == (any_of, none_of)


def test_contains_any_of_on_a_fact_that_is_not_a_list_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "medications" / "topical_ingredients.yaml"
    path.write_text(path.read_text().replace("item.service == topical_analgesic, \"item.ingredients contains any",
                                             "\"item.service contains any of [topical_analgesic]\", \"item.ingredients "
                                             "contains any", 1))
    result = run_cli("validate", "--no-examples", rules_copy)
    assert result.returncode == 4
    assert "'item.service' is a enum, not a list" in result.stderr


def test_a_value_outside_the_facts_vocabulary_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "modalities" / "modalities_derived.yaml"
    path.write_text(path.read_text().replace("contains any of [arthritis, fracture]",
                                             "contains any of [arthritis, fractur]"))
    result = run_cli("validate", "--no-examples", rules_copy)
    assert result.returncode == 4
    assert "'fractur' is not a value of 'diagnosis.categories'" in result.stderr
    assert "did you mean 'fracture'?" in result.stderr


def _topical(ingredients: list[str]) -> Case:
    data = load(RULES / "medications" / "topical_compound_2016.examples" / "upheld.yaml")
    data["requested_items"][0]["ingredients"] = ingredients
    return Case.model_validate(data)


@pytest.mark.parametrize(("ingredients", "unsupported", "nsaid"), [
    (["flurbiprofen", "cyclobenzaprine"], "present", "present"),
    (["menthol", "capsaicin"], "absent", "absent"),
    (["diclofenac"], "absent", "present"),
    (["lidocaine", "gabapentin"], "present", "absent"),
])
def test_the_rewritten_ingredient_rules_flag_the_product(ingredients: list[str], unsupported: str,
                                                         nsaid: str) -> None:
    from imr_rules.engine.knowledge_base import evaluator

    case = _topical(ingredients)
    engine = evaluator(RULES)
    record = engine.session(case, case.requested_items[0])
    assert record.value("rx.topical_unsupported") == unsupported
    assert record.value("rx.topical_nsaid") == nsaid


def test_the_template_field_has_one_definition() -> None:
    assert template_fields("{citation} and { item.description } and {a.b}") == ["citation", "item.description", "a.b"]
    assert fill("x {a.b} y", lambda name: name.upper()) == "x A.B y"
    sources = [p.read_text() for p in (RULES.parent / "engine" / "imr_rules").rglob("*.py")]
    assert sum(TEMPLATE_FIELD.pattern in source for source in sources) == 1
    assert sum("re.compile(r\"\\{" in source for source in sources) == 1


def _nested_or_under_array_test(node: Any, under_array: bool = False) -> bool:
    if isinstance(node, list):
        return any(_nested_or_under_array_test(item, under_array) for item in node)
    if not isinstance(node, dict):
        return False
    return any((key == "$or" and under_array)
               or _nested_or_under_array_test(value, under_array or key in ("$iany", "$iall"))
               for key, value in node.items())


def test_no_compiled_rule_puts_an_or_inside_an_array_test() -> None:
    """durable leaves a field unset on the node of an $or inside $iany and then, now and then, refuses the
    ruleset (error 102): the compiler never writes one."""
    from imr_rules.engine.knowledge_base import load_knowledge_base

    compiled = load_knowledge_base(RULES).compiled
    assert not any(_nested_or_under_array_test(rule.definition) for r in compiled.rulesets.values()
                   for _, rule in r.rules)
    patterns = _Patterns()
    condition = parse_condition("x.y contains any of [a, b]")
    patterns.condition(condition, condition.op)
    assert not _nested_or_under_array_test(patterns.items())
