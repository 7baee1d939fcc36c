"""The reference engine (plain Python over the same compiled rulesets) and durable_rules agree: the whole
evaluation record of every item, trace order included, on every rule example, historical case and seed,
and on generated cases (1,000 by default; ``IMR_REFERENCE_CASES=10000`` for the full run)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest

from imr_rules.cases.model import Case
from imr_rules.cases.reader import read_case
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge_base import evaluator, reference_evaluator
from tools.synthetic import synthetic_case

from .conftest import RULES, SEEDS

SYNTHETIC_CASES = int(os.environ.get("IMR_REFERENCE_CASES", "1000"))


def _differences(cases: list[Case]) -> list[str]:
    durable, reference = evaluator(RULES), reference_evaluator(RULES)
    found = []
    for case in cases:
        first, second = durable.evaluate(case).to_json(), reference.evaluate(case).to_json()
        if first != second:
            fields = sorted({key for a, b in zip(first["items"], second["items"], strict=True)
                             for key in a if a[key] != b[key]})
            found.append(f"{case.case_id}: {', '.join(fields)}")
    return found


def _read(paths: list[Path]) -> list[Case]:
    return [read_case(path) for path in paths]


def test_the_reference_engine_does_not_use_durable() -> None:
    assert isinstance(reference_evaluator(RULES), Evaluator)
    assert type(reference_evaluator(RULES).engine).__module__ == "imr_rules.engine.reference"


def test_agreement_on_every_rule_example() -> None:
    examples = _read(sorted(RULES.glob("**/*.examples/*.yaml")))
    assert len(examples) > 300
    assert _differences(examples) == []


def test_agreement_on_every_historical_case_and_seed() -> None:
    cases = _read(sorted((SEEDS.parent / "historical").glob("*.yaml")) + sorted(SEEDS.glob("*.yaml")))
    assert len(cases) >= 113
    assert _differences(cases) == []


def test_agreement_on_generated_cases() -> None:
    rng = random.Random(20261201)
    cases = [Case.model_validate(synthetic_case(index, rng)) for index in range(SYNTHETIC_CASES)]
    decisions: dict[str, Any] = {}
    for item in (i for c in cases[:200] for i in evaluator(RULES).evaluate(c).items):
        decisions[item.decision] = decisions.get(item.decision, 0) + 1
    assert set(decisions) == {"Upheld", "Overturned", "Not addressed"}  # the generated cases reach every outcome
    assert _differences(cases) == []


@pytest.mark.parametrize("value", [[], ["a"], ["b", "a"]])
def test_array_tests_follow_durable_on_empty_and_full_lists(value: list[str]) -> None:
    """durable's $iall fails on an empty list; the reference engine does the same."""
    from imr_rules.engine.durable_adapter import DurableEngine
    from imr_rules.engine.reference import ReferenceEngine

    definition = {"sentinel": {"all": [{"m": {"t": "sentinel"}}]},
                  "all_not_b": {"all": [{"p": {"$and": [{"t": "f"}, {"$iall": {"v": {"$neq": {"$i": "b"}}}}]}}]},
                  "any_a": {"all": [{"p": {"$and": [{"t": "f"}, {"$iany": {"v": {"$i": "a"}}}]}}]}}
    fired: dict[str, list[str]] = {"DurableEngine": [], "ReferenceEngine": []}
    for engine in (DurableEngine(), ReferenceEngine()):
        name = f"arrays_{len(value)}"
        engine.register(name, definition)
        got = fired[type(engine).__name__]
        engine.run(name, [{"id": "f", "t": "f", "v": value}],
                   lambda rule, message, assert_fact, got=got: got.append(rule))
    assert fired["DurableEngine"] == fired["ReferenceEngine"]
