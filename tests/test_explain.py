"""`imr-rules explain`: criteria with provenance, the request for information, and the documentation or
request changes that turn the decision, each checked by re-evaluating the case with the change applied."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from imr_rules.cases.model import Case, RequestedItem
from imr_rules.cases.reader import read_case
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.regression.runner import case_files
from imr_rules.review.whatif import Change, offer_text, what_would_change
from imr_rules.rulebase.loader import load_rules
from imr_rules.rulebase.validator import validate_rules

from .conftest import RULES, SEEDS, run_cli

HISTORICAL = SEEDS.parent / "historical"
HEADING = "What documentation or request change would change the decision"


@dataclass(frozen=True)
class Searched:
    """One requested item, its decision, the decisions of the others, and the offers found for it."""

    path: Path
    case: Case
    item: RequestedItem
    decision: str
    others: dict[str, str]
    offers: list[Change]


@cache
def searched() -> list[Searched]:
    """Every seed and historical item with the offers explain finds for it (searched once per test run)."""
    engine = evaluator(RULES)
    found: list[Searched] = []
    for path in case_files([SEEDS, HISTORICAL]):
        case = read_case(path)
        full = engine.evaluate(case)
        decided = {i.item_id: i.decision for i in full.items}
        for item in case.requested_items:
            others = {k: v for k, v in decided.items() if k != item.id}
            found.append(Searched(path, case, item, decided[item.id], others,
                                  what_would_change(engine, case, item.id, full=full)))
    return found


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.yaml")), ids=lambda p: p.stem)
def test_seed_explanations_list_missing_documentation_and_say_what_would_change(path: Path) -> None:
    result = run_cli("explain", path)
    assert result.returncode == 0, result.stderr
    assert "Request for information to the requesting physician: please provide" in result.stdout
    assert "[from clinical." in result.stdout  # provenance of each fact read
    assert result.stdout.count(HEADING) == len(read_case(path).requested_items)  # offers, or "none found"
    assert "- would be " not in result.stdout  # each line is an offer ("document ...: would be ..."), not a fact


def test_a_seed_offer_is_phrased_for_the_physician_and_flips_its_item() -> None:
    with_offers = [s for s in searched() if s.path.parent == SEEDS and s.offers]
    assert with_offers, "no seed item has an offer"
    entry = with_offers[0]
    text = " ".join(run_cli("explain", entry.path, "--item", entry.item.id).stdout.split())
    for change in entry.offers:
        assert f"- {'; and '.join(change.offers)}: would be {change.decision} under {change.rule}" in text


def test_every_offer_on_the_seed_and_historical_cases_flips_its_item() -> None:
    engine = evaluator(RULES)
    checked = 0
    for entry in searched():
        for change in entry.offers:
            again = engine.evaluate_item(entry.case, entry.item, entry.others, change.overrides)
            assert again.decision == change.decision != entry.decision, (entry.path.name, entry.item.id, change)
            checked += 1
    with_offers = sum(1 for entry in searched() if entry.offers)
    assert with_offers >= 100 and checked >= 300, (with_offers, checked)


def test_offers_only_document_what_is_not_documented_or_change_the_request() -> None:
    rule_base = evaluator(RULES).compiled.rule_base
    for entry in searched():
        for change in entry.offers:
            assert len(change.offers) == len(change.changes)
            for fact, before, after in change.changes:
                spec = rule_base.facts[fact]
                assert spec.change in ("document", "request"), (entry.path.name, fact)  # never history
                if spec.change == "document" and spec.kind == "list":
                    assert set(before or []) < set(after), (entry.path.name, fact)  # a word added, none removed
                elif spec.change == "document":
                    assert before is None, (entry.path.name, fact, before)  # never turned around


def test_offers_are_ranked_by_how_few_facts_they_need_then_cost() -> None:
    for entry in searched():
        keys = [(len(c.changes), c.cost) for c in entry.offers]
        assert keys == sorted(keys), (entry.path.name, entry.item.id)


def test_an_item_turned_only_by_history_gets_no_offer() -> None:
    """Seed 001's therapy did not improve function in 12 visits, both documented: history, so no offer."""
    path = SEEDS / "seed-001-lumbar-pt.yaml"
    entry = next(s for s in searched() if s.path == path)
    assert entry.offers == []
    text = " ".join(run_cli("explain", path).stdout.split())
    assert f"{HEADING}: none found." in text
    assert "visits completed" not in text.split(HEADING)[1]


def _rewrite_fact(rules: Path, fact: str, drop: tuple[str, ...] = (), **keys: str) -> None:
    """Set ``keys`` and drop ``drop`` of one fact in a rules folder's facts.yaml (rewritten as plain YAML)."""
    path = rules / "facts.yaml"
    data = yaml.safe_load(path.read_text())
    data["facts"][fact].update(keys)
    for key in drop:
        data["facts"][fact].pop(key, None)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=200))


def test_the_offer_wording_and_what_may_change_come_from_the_rule_files(rules_copy: Path) -> None:
    entry = next(s for s in searched() if s.offers and len(s.offers[0].changes) == 1)
    fact = entry.offers[0].changes[0][0]
    _rewrite_fact(rules_copy, fact, offer="record the probe wording for {fact}")
    text = " ".join(run_cli("explain", entry.path, "--item", entry.item.id, "--rules", rules_copy).stdout.split())
    description = evaluator(RULES).compiled.rule_base.facts[fact].description
    assert f"- record the probe wording for {description}: would be {entry.offers[0].decision}" in text
    _rewrite_fact(rules_copy, fact, drop=("offer", "offer_absent"), change="none")
    offers = what_would_change(evaluator(rules_copy), entry.case, entry.item.id, limit=50)
    assert all(fact not in change.overrides for change in offers)


def test_vocabulary_findings_are_offered_in_the_catalogue_wording_with_their_label(rules_copy: Path) -> None:
    path = rules_copy / "facts.yaml"
    text = path.read_text()
    shipped = evaluator(RULES).compiled.rule_base
    concept = next(name for name in shipped.facts if name.startswith("finding."))
    label = shipped.vocabulary.term("concepts", concept.removeprefix("finding.")).label
    assert shipped.facts[concept].change == "document"
    path.write_text(text.replace("  present: document {fact}\n", "  present: chart the finding {fact}\n", 1))
    edited = evaluator(rules_copy).compiled.rule_base
    assert offer_text(edited, concept, None, "present") == f"chart the finding {label}"
    assert offer_text(shipped, concept, None, "present") != f"chart the finding {label}"


def test_explain_one_item_and_an_unknown_item() -> None:
    path = SEEDS / "seed-000-cervical-fusion.yaml"
    one = run_cli("explain", path, "--item", "2")
    assert one.returncode == 0 and "Item 2:" in one.stdout and "Item 1:" not in one.stdout
    missing = run_cli("explain", path, "--item", "9")
    assert missing.returncode == 2 and "no such requested item" in missing.stderr


# ---- the `change` key of rules/facts.yaml, checked by `imr-rules validate` ----------------------------------
def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_bad_change_value_is_an_error_with_file_and_line(rules_copy: Path) -> None:
    facts = rules_copy / "facts.yaml"
    _edit(facts, "    change: none\n", "    change: rewrite\n")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    line = _line(facts, "change: rewrite")
    assert f"facts.yaml:{line}: error: facts." in result.stderr and ".change:" in result.stderr, result.stderr


def test_a_fact_without_change_counts_as_history_and_validate_warns(rules_copy: Path) -> None:
    facts = rules_copy / "facts.yaml"
    _rewrite_fact(rules_copy, "prior.functional_improvement", drop=("change", "offer", "offer_absent"))
    result = run_cli("validate", rules_copy)
    assert result.returncode == 0, result.stderr
    line = _line(facts, "prior.functional_improvement:")
    assert (f"facts.yaml:{line}: warning: facts.prior.functional_improvement: fact 'prior.functional_improvement' "
            "does not say how it can change") in result.stderr
    assert evaluator(rules_copy).compiled.rule_base.facts["prior.functional_improvement"].change == "none"


def test_offers_that_cannot_apply_are_errors(rules_copy: Path) -> None:
    _rewrite_fact(rules_copy, "patient.age", offer="document an age of {value}")
    _rewrite_fact(rules_copy, "item.visits_requested", offer_absent="request none")
    _rewrite_fact(rules_copy, "conservative_care.failed", offer="document {answer}")
    _edit(rules_copy / "shared" / "red_flags.yaml", "  red_flag.any:\n    kind: finding\n",
          "  red_flag.any:\n    kind: finding\n    change: document\n")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "facts.patient.age.offer: 'offer' is given but the fact cannot change (change: none)" in result.stderr
    assert "'offer_absent' is for findings; 'item.visits_requested' is a number" in result.stderr
    assert "facts.conservative_care.failed.offer: unknown field '{answer}' in an offer" in result.stderr
    assert re.search(r"red_flags\.yaml:\d+: error: derived_facts\.red_flag\.any\.change: derived fact 'red_flag\.any' "
                     r"cannot say how it changes", result.stderr), result.stderr


def test_every_shipped_base_fact_says_how_it_can_change() -> None:
    loaded = load_rules(RULES)
    _, diagnostics = validate_rules(loaded)
    assert not [d for d in diagnostics if "how it can change" in d.message]
    assert loaded.catalogue is not None
    assert all(spec.change is not None for spec in loaded.catalogue[0].facts.values())
