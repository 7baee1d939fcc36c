"""Catalogue coverage and the generated request corpus: every vocabulary service dated in each MTUS period
is decided, named as needing the licensed guideline text, or "Not addressed" for a named reason."""

from __future__ import annotations

from pathlib import Path

from imr_rules.authoring.guideline_catalogue import catalogue_coverage, check_catalogue, load_catalogue
from imr_rules.engine.knowledge_base import evaluator, load_rule_base
from imr_rules.regression.runner import case_files, evaluate_files
from tools.request_corpus import PERIODS, named, outcome_of, requests

from .conftest import ROOT, RULES, run_cli

RULE_BASE, _ = load_rule_base(RULES)


def test_every_generated_request_is_answered_or_not_addressed_for_a_named_reason() -> None:
    rows = list(requests(evaluator(RULES)))
    services = [s for s in RULE_BASE.vocabulary.ids("services") if s != "other"]
    assert len(rows) == len(services) * len(PERIODS)
    assert [r for r in rows if not named(r.item)] == []
    assert not any(outcome_of(r.item) == "no rule at all" for r in rows)


def test_a_2026_request_is_not_addressed_only_for_unnamed_services() -> None:
    rows = [r for r in requests(evaluator(RULES)) if r.period.startswith("2026")]
    missing = {r.service for r in rows if outcome_of(r.item).startswith("no rule")}
    # a bare 'other medication' names no drug, a bare lab test no test, an assistant surgeon no surgery
    assert missing <= {"other_medication", "lab_test", "surgical_assistant"}


def test_dev_cases_keep_every_item_answered_and_none_needs_the_licensed_text() -> None:
    results = list(evaluate_files(case_files([ROOT / "cases" / "historical"]), evaluator(RULES)))
    rows = [row for result in results for row in result.outcomes]
    assert rows and not any(result.problems for result in results)
    assert not any(row.needs_licensed for row in rows)  # the dev letters predate the ACOEM-based MTUS
    decided = sum(row.addressed for row in rows)
    assert decided / len(rows) >= 0.98


def test_the_catalogue_names_known_guidelines_and_terms() -> None:
    catalogue = load_catalogue(RULES)
    assert check_catalogue(catalogue, RULE_BASE) == []
    rows = catalogue_coverage(catalogue, RULE_BASE)
    assert len({(r.group.id, r.entry.id) for r in rows}) == len(rows)
    by_id = {(r.group.id, r.entry.id): r for r in rows}
    assert by_id[("cpmtg_2009", "physical_medicine")].status == "rule"
    assert by_id[("postsurgical", "tka")].status == "rule"
    assert by_id[("acoem_post_2017", "knee_imaging")].status == "licensed"
    assert by_id[("acoem_post_2017", "lb_imaging")].status == "rule"  # the 2016 text has criteria


def test_coverage_catalogue_command() -> None:
    result = run_cli("coverage", "--catalogue")
    assert result.returncode == 0, result.stderr
    assert "TOTAL:" in result.stdout and "with a rule" in result.stdout and "needing the licensed text" in result.stdout
    assert "Physical medicine" not in result.stdout.split("[cpmtg_2009]")[1].split("\n\n")[0]  # covered: not listed


def test_a_catalogue_with_an_unknown_service_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "guideline_catalogue.yaml"
    path.write_text(path.read_text().replace("services: [other_medication]}", "services: [acetaminophen]}", 1))
    result = run_cli("coverage", "--catalogue", "--rules", rules_copy)
    assert result.returncode == 4
    assert "unknown services term 'acetaminophen'" in result.stderr
