"""durable_rules' limits: the model in rulebase/limits.py predicts what durable does, and ``validate`` reports a
rule base at or past a limit with file:line (exit 4) instead of letting durable fail (or hang) later.

Part 1 checks the model against durable itself on raw rulesets, at and just past each limit.
Part 2 generates rule bases in temporary folders, at and past the limits a rule author can reach.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from imr_rules.cases.model import Case
from imr_rules.cases.reader import parse_case
from imr_rules.common import yaml_source
from imr_rules.common.diagnostics import InputError
from imr_rules.engine.durable_adapter import DurableEngine, EngineError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge import build_knowledge_base
from imr_rules.engine.knowledge_base import load_rule_base
from imr_rules.rulebase import limits
from imr_rules.rulebase.limits import passed

from .conftest import RULES, run_cli

SENTINEL = {"sentinel": {"all": [{"m": {"t": "sentinel"}}]}}


def fact(name: str, *tests: dict[str, Any]) -> dict[str, Any]:
    return {"$and": [{"t": "f"}, {"n": name}, *tests]}


def many_patterns(count: int) -> dict[str, Any]:
    return {**SENTINEL, "r": {"all": [{f"p{i}": fact(f"x{i}")} for i in range(count)]}}


def many_range_tests(count: int) -> dict[str, Any]:
    return {**SENTINEL, **{f"r{i}": {"all": [{"p": fact("x", {"$gte": {"v": i}})}]} for i in range(count)}}


def many_rules_on_one_pattern(count: int) -> dict[str, Any]:
    return {**SENTINEL, **{f"r{i}": {"all": [{"tp": {"$and": [{"t": "tp"}, {"n": "T"}]}}, {"p": fact(f"x{i}")}]}
                           for i in range(count)}}


def many_in_lists_sharing_a_value(count: int) -> dict[str, Any]:
    return {**SENTINEL, **{f"r{i}": {"all": [{"p": fact("x", {"$or": [{"v": "a"}, {"v": f"b{i}"}]})}]}
                           for i in range(count)}}


def many_in_lists_in_one_pattern(count: int) -> dict[str, Any]:
    tests = [{"$or": [{"v": i}, {"w": i}]} for i in range(count)]
    return {**SENTINEL, "r": {"all": [{"p": fact("x", *tests)}]}}


def many_distinct_facts(count: int) -> dict[str, Any]:
    return {**SENTINEL, **{f"r{i}": {"all": [{"p": fact(f"x{i}")}]} for i in range(count)}}


def _asserted(definition: dict[str, Any], facts: list[dict[str, Any]]) -> str:
    """What durable does with the ruleset: 'ok', or the error (at registration or when asserting)."""
    engine = DurableEngine()
    name = f"limit_{id(definition)}"
    try:
        engine.register(name, definition)
        engine.run(name, facts, lambda rule, message, assert_fact: None)
    except EngineError as exc:
        return "error code: " + str(exc).rsplit(": ", 1)[-1]
    return "ok"


# (ruleset builder, count at the limit, limit name, facts to assert, durable's error past the limit)
CASES: list[tuple[Callable[[int], dict[str, Any]], int, str, list[dict[str, Any]], str]] = [
    (many_patterns, 16, "patterns per rule", [{"id": f"f{i}", "t": "f", "n": f"x{i}"} for i in range(17)],
     "error code: 304"),
    (many_range_tests, 64, "tests one fact passes at once", [{"id": "f", "t": "f", "n": "x", "v": 1000}],
     "error code: 303"),
    (many_rules_on_one_pattern, 256, "patterns ending at one node",
     [{"id": "t", "t": "tp", "n": "T"}, {"id": "f", "t": "f", "n": "x1"}], "error code: 108"),
    (many_in_lists_sharing_a_value, 128, "$or groups sharing a value", [{"id": "f", "t": "f", "n": "x", "v": "z"}],
     "error code: 107"),
    (many_in_lists_in_one_pattern, 14, "expressions per pattern", [{"id": "f", "t": "f", "n": "x", "v": 1}],
     "error code: 113"),
]


@pytest.mark.parametrize(("build", "at_limit", "limit", "facts", "error"), CASES,
                         ids=[case[2] for case in CASES])
def test_the_model_predicts_durable_at_and_past_each_limit(build: Callable[[int], dict[str, Any]], at_limit: int,
                                                           limit: str, facts: list[dict[str, Any]],
                                                           error: str) -> None:
    step = 44 if limit == "patterns ending at one node" else 1  # durable tolerates one more in first position
    assert limit not in passed(build(at_limit))
    assert _asserted(build(at_limit), facts) == "ok"
    assert limit in passed(build(at_limit + step))
    assert _asserted(build(at_limit + step), facts) == error


def test_in_lists_sharing_a_value_pass_the_stack_limit_long_before_their_own() -> None:
    """65 'in' lists naming the same value: a fact with that value would pass 65 tests at once."""
    assert passed(many_in_lists_sharing_a_value(64)) == []
    assert _asserted(many_in_lists_sharing_a_value(64), [{"id": "f", "t": "f", "n": "x", "v": "a"}]) == "ok"
    assert passed(many_in_lists_sharing_a_value(65)) == ["tests one fact passes at once"]
    assert _asserted(many_in_lists_sharing_a_value(65), [{"id": "f", "t": "f", "n": "x", "v": "a"}]) == \
        "error code: 303"


def test_nodes_under_one_node_are_modelled_without_running_durable_past_the_limit() -> None:
    """Past 511 different tests under one node durable never returns, so only the side at the limit runs."""
    assert passed(many_distinct_facts(511)) == []
    assert _asserted(many_distinct_facts(511), [{"id": "f", "t": "f", "n": "x3"}]) == "ok"
    assert passed(many_distinct_facts(512)) == ["nodes under one node"]


# ---- part 2: generated rule bases ----------------------------------------------------------------------------
def criterion(key: str, depth: int = 0, width: int = 1) -> dict[str, Any]:
    """A criterion: a leaf, or ``depth`` levels of any_of groups with ``width`` leaves at the bottom."""
    text = {"met": "met.", "not_met": "not met.", "not_documented": "not documented."}
    if depth == 0 and width == 1:
        return {"id": key, "label": key, "test": "prior.functional_improvement is present", "text": text}
    if depth <= 1:
        leaves = [{"id": f"{key}_{i}", "label": "leaf", "test": f"conservative_care.weeks >= {i}", "text": text}
                  for i in range(width)]
        return {"id": key, "label": key, "any_of": leaves}
    return {"id": key, "label": key, "any_of": [criterion(f"n{depth - 1}", depth - 1, width), criterion(f"l{depth}")]}


def topic(index: int, criteria: list[dict[str, Any]], when: list[str] | None = None) -> dict[str, Any]:
    return {"kind": "topic", "id": f"GEN-{index}", "title": f"generated topic {index}", "topic": f"gen_{index}",
            "guideline": "cpmtg_2016", "citation": {"section": "Generated"},
            "applies_to": {"services": ["physical_therapy"], "body_regions": ["lumbar"], "when": when or []},
            "criteria": criteria,
            "rationale": {"overturned": "{citation}", "upheld": "{citation}", "not_documented": "{citation}"}}


def rule_base(folder: Path, topics: list[dict[str, Any]]) -> Path:
    """A rules folder with the shipped registry, fact catalogue and vocabulary and the given topics only."""
    folder.mkdir(parents=True)
    shutil.copy(RULES / "guidelines.yaml", folder / "guidelines.yaml")
    shutil.copy(RULES / "facts.yaml", folder / "facts.yaml")
    shutil.copytree(RULES / "vocabulary", folder / "vocabulary")
    (folder / "topics").mkdir()
    for data in topics:
        (folder / "topics" / f"{data['id'].lower()}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def case(weeks: int = 1000) -> Case:
    return parse_case({
        "schema": 2, "case_id": "LIMITS", "claim": {"injury_date": "2015-01-01"}, "request_date": "2017-01-10",
        "diagnoses": [{"description": "low back pain", "category": "other", "region": "lumbar"}],
        "requested_items": [{"id": "1", "description": "PT", "service": "physical_therapy", "regions": ["lumbar"],
                             "frequency_per_week": 2, "duration_weeks": 3}],
        "clinical": {"conservative_care": {"weeks": weeks}, "treatment": {"history_complete": True}}})


def evaluates(folder: Path) -> str:
    rules, diagnostics = load_rule_base(folder)
    return Evaluator(build_knowledge_base(rules, tuple(diagnostics))).evaluate(case()).items[0].decision


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_a_group_of_fifteen_criteria_is_fine_sixteen_pass_the_patterns_limit(tmp_path: Path) -> None:
    fine = rule_base(tmp_path / "fine", [topic(0, [criterion("wide", 1, 15)])])
    assert run_cli("validate", "--no-examples", fine).returncode == 0
    assert evaluates(fine) == "Overturned"
    wide = rule_base(tmp_path / "wide", [topic(0, [criterion("wide", 1, 16)])])
    result = run_cli("validate", "--no-examples", wide)
    assert result.returncode == 4
    line = line_of(wide / "topics" / "gen-0.yaml", "id: wide")
    assert f"topics/gen-0.yaml:{line}: error: durable limit: a rule with 17 patterns: durable allows 16 " \
           "(error 304 when the rule is tried)" in result.stderr


def test_groups_nested_past_the_limit_are_located(tmp_path: Path) -> None:
    fine = rule_base(tmp_path / "fine", [topic(0, [criterion("deep", limits.MAX_NESTING)])])
    assert run_cli("validate", "--no-examples", fine).returncode == 0
    assert evaluates(fine) == "Overturned"
    past = limits.MAX_NESTING + 2
    deep = rule_base(tmp_path / "deep", [topic(0, [criterion("deep", past)])])
    result = run_cli("validate", "--no-examples", deep)
    assert result.returncode == 4
    line = line_of(deep / "topics" / "gen-0.yaml", "id: deep")
    assert f"gen-0.yaml:{line}: error: durable limit: criterion GEN-0/deep nests groups {past} deep" in result.stderr
    # the issue's reproducer, 60 groups deep, is stopped earlier by the YAML depth limit, also with a location
    deeper = rule_base(tmp_path / "deeper", [topic(0, [criterion("deep", 60)])])
    refused = run_cli("validate", "--no-examples", deeper)
    assert refused.returncode == 4 and "gen-0.yaml:" in refused.stderr


def test_many_distinct_thresholds_on_one_fact_pass_the_stack_limit(tmp_path: Path) -> None:
    """Each topic applies from a different number of weeks: a fact with a large value passes every test."""
    fine = rule_base(tmp_path / "fine", [topic(i, [criterion("c")], [f"conservative_care.weeks >= {i}"])
                                         for i in range(60)])
    assert run_cli("validate", "--no-examples", fine).returncode == 0
    assert evaluates(fine) == "Upheld"  # prior improvement is not documented
    many = rule_base(tmp_path / "many", [topic(i, [criterion("c")], [f"conservative_care.weeks >= {i}"])
                                         for i in range(70)])
    result = run_cli("validate", "--no-examples", many)
    assert result.returncode == 4
    assert "error: durable limit: fact 'conservative_care.weeks' may pass 70 tests at once: durable allows 64 " \
           "(error 303 when such a fact is asserted)" in result.stderr
    assert "topics/gen-" in result.stderr


def test_a_hundred_topics_on_one_service_evaluate_and_too_many_are_refused_without_hanging(tmp_path: Path) -> None:
    """100 topics on one service and region gave durable error 303 before rulesets stopped re-testing what
    routing settles; past about 165 such topics the criteria would overflow durable's node table."""
    hundred = rule_base(tmp_path / "hundred", [topic(i, [criterion("a"), criterion("b", 1, 2)]) for i in range(100)])
    assert run_cli("validate", "--no-examples", hundred).returncode == 0
    assert evaluates(hundred) == "Upheld"
    crowded = rule_base(tmp_path / "crowded", [topic(i, [criterion("a"), criterion("b", 1, 2)]) for i in range(180)])
    result = run_cli("validate", "--no-examples", crowded)
    assert result.returncode == 4
    assert "different tests follow 't == 'c'': durable allows 511 (registration never returns)" in result.stderr
    assert "topics/gen-" in result.stderr


def test_a_ruleset_durable_refuses_is_located_even_when_the_model_lets_it_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the model's limits lifted, durable itself refuses (error 108) at registration; validate-time
    registration finds the rule whose addition makes it refuse and reports it with file:line."""
    monkeypatch.setattr(limits, "MAX_NESTING", 1000)
    monkeypatch.setattr(yaml_source, "MAX_DEPTH", 1000)  # 80 groups are 160 YAML levels
    monkeypatch.setattr(limits, "USERS", limits.Limit("patterns ending at one node", 100_000, "", ""))
    deep = rule_base(tmp_path / "deep", [topic(0, [criterion("deep", 80)])])
    rules, _ = load_rule_base(deep)
    with pytest.raises(InputError) as refused:
        build_knowledge_base(rules)
    (diagnostic,) = refused.value.diagnostics
    assert diagnostic.file.endswith("topics/gen-0.yaml") and diagnostic.line is not None
    assert "refuses the ruleset for physical_therapy/lumbar" in diagnostic.message
    assert "(error 108)" in diagnostic.message


def test_validate_reports_a_ruleset_durable_refuses_with_file_and_line(tmp_path: Path) -> None:
    """The same, through ``imr-rules validate`` (the model's limits lifted in the child process): exit 4."""
    deep = rule_base(tmp_path / "deep", [topic(0, [criterion("deep", 80)])])
    code = ("import sys; from imr_rules.rulebase import limits; limits.MAX_NESTING = 1000; "
            "from imr_rules.common import yaml_source; yaml_source.MAX_DEPTH = 1000; "
            "limits.USERS = limits.Limit('patterns ending at one node', 100_000, '', ''); "
            "sys.argv = ['imr-rules', 'validate', '--no-examples', sys.argv[1]]; "
            "from imr_rules.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code, str(deep)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 4
    assert re.search(r"topics/gen-0\.yaml:\d+: error: durable: durable_rules refuses the ruleset for "
                     r"physical_therapy/lumbar from 2016-07-28 once this rule is added \(error 108\)", result.stderr)


def test_the_shipped_rule_base_stays_well_inside_every_limit() -> None:
    result = run_cli("rules", "limits")
    assert result.returncode == 0
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    for row in rows:
        if "of" in row:
            at = row.index("of")
            largest, maximum = int(row[at - 1]), int(row[at + 1])
            assert largest * 2 <= maximum, row
