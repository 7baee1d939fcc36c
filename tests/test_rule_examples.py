"""Every topic rule ships example cases for Overturned, Upheld and Upheld-for-missing-documentation,
found by walking the rules folder; each must come out as its 'expect' block says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imr_rules.authoring.examples import check_example, example_paths, load_examples, required_outcomes
from imr_rules.cases.reader import read_case
from imr_rules.engine.knowledge_base import evaluator, load_rule_base

from .conftest import RULES, run_cli

RULE_BASE, _ = load_rule_base(RULES)
EXAMPLES = [(topic.id, path) for topic in RULE_BASE.topics for path in example_paths(topic)]


def test_rule_files_are_discovered_from_the_filesystem() -> None:
    topic_files = {p for p in RULES.rglob("*.yaml") if "kind: topic" in p.read_text()}
    assert {topic.path for topic in RULE_BASE.topics} == topic_files
    assert len(RULE_BASE.topics) >= 5


@pytest.mark.parametrize("topic", RULE_BASE.topics, ids=lambda t: t.id)
def test_topic_has_an_example_for_each_outcome(topic) -> None:  # type: ignore[no-untyped-def]
    covered = set()
    for path in example_paths(topic):
        case = read_case(path)
        assert case.expect, f"{path} has no expect block"
        covered |= {(e.decision, e.basis) for e in case.expect if e.rule == topic.id}
    assert set(required_outcomes(topic)) <= covered


@pytest.mark.parametrize(("topic_id", "path"), EXAMPLES, ids=[f"{t}:{p.name}" for t, p in EXAMPLES])
def test_example_comes_out_as_expected(topic_id: str, path: Path) -> None:
    examples, _ = load_examples(RULE_BASE)
    example = next(e for e in examples if e.path == path)
    assert check_example(example, evaluator(RULES)) == []


def test_a_rule_without_examples_fails_the_check(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    shutil.rmtree(rules / "imaging" / "cervical_xray_acoem_2004.examples")
    rule_base, _ = load_rule_base(rules)
    _, problems = load_examples(rule_base)
    messages = [p.render() for p in problems]
    assert len(messages) == 3
    assert all("cervical_xray_acoem_2004.yaml:2" in m and "ACOEM04-NECK-XRAY has no example" in m for m in messages)
    result = run_cli("validate", rules)
    assert result.returncode == 4
    assert "ACOEM04-NECK-XRAY has no example case for an Overturned example" in result.stderr


def test_a_wrong_expectation_fails_validate(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    example = rules / "imaging" / "cervical_xray_acoem_2004.examples" / "upheld.yaml"
    example.write_text(example.read_text().replace("decision: Upheld", "decision: Overturned"))
    result = run_cli("validate", rules)
    assert result.returncode == 4
    assert "came out with decision Upheld (expected Overturned)" in result.stderr


def test_validate_passes_on_the_shipped_rules() -> None:
    result = run_cli("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
