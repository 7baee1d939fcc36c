"""`imr-rules explain`: criteria with provenance, the request for information, and changes that turn the
decision, each checked by re-evaluating the case with the change applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from imr_rules.cases.reader import read_case
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.regression.runner import case_files
from imr_rules.review.whatif import what_would_change

from .conftest import RULES, SEEDS, run_cli

HISTORICAL = SEEDS.parent / "historical"


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.yaml")), ids=lambda p: p.stem)
def test_seed_explanations_list_missing_documentation_and_a_change_that_flips(path: Path) -> None:
    result = run_cli("explain", path)
    assert result.returncode == 0, result.stderr
    assert "Request for information to the requesting physician: please provide" in result.stdout
    assert "would be Overturned under" in result.stdout
    assert "[from clinical." in result.stdout  # provenance of each fact read
    case = read_case(path)
    engine = evaluator(RULES)
    decided = {i.item_id: i.decision for i in engine.evaluate(case).items}
    for item in case.requested_items:
        changes = what_would_change(engine, case, item.id)
        assert changes, f"no change found for item {item.id}"
        others = {k: v for k, v in decided.items() if k != item.id}
        for change in changes:
            again = engine.evaluate_item(case, item, others, change.overrides)
            assert again.decision == change.decision != decided[item.id]


def test_every_change_found_on_the_historical_corpus_flips_its_item() -> None:
    engine = evaluator(RULES)
    checked = 0
    for path in case_files([HISTORICAL]):
        case = read_case(path)
        decided = {i.item_id: i.decision for i in engine.evaluate(case).items}
        for item in case.requested_items:
            others = {k: v for k, v in decided.items() if k != item.id}
            for change in what_would_change(engine, case, item.id, limit=1):
                again = engine.evaluate_item(case, item, others, change.overrides)
                assert again.decision == change.decision != decided[item.id], (path.name, item.id, change)
                checked += 1
    assert checked >= 150


def test_explain_one_item_and_an_unknown_item() -> None:
    path = SEEDS / "seed-000-cervical-fusion.yaml"
    one = run_cli("explain", path, "--item", "2")
    assert one.returncode == 0 and "Item 2:" in one.stdout and "Item 1:" not in one.stdout
    missing = run_cli("explain", path, "--item", "9")
    assert missing.returncode == 2 and "no such requested item" in missing.stderr
