"""The coverage command over the seed and historical cases."""

from __future__ import annotations

from pathlib import Path

from imr_rules.engine.knowledge_base import evaluator
from imr_rules.regression.runner import case_files, coverage, evaluate_files

from .conftest import RULES, SEEDS, run_cli

HISTORICAL = SEEDS.parent / "historical"


def test_coverage_counts_every_item_of_the_corpus() -> None:
    rows = [o for r in evaluate_files(case_files([HISTORICAL]), evaluator(RULES)) for o in r.outcomes]
    assert len(rows) == 239
    table = coverage(rows)
    assert sum(r.items for r in table) == 239
    assert all(0 <= r.addressed <= r.items and r.agree <= r.recorded <= r.addressed for r in table)


def test_coverage_command_on_the_seeds() -> None:
    result = run_cli("coverage", SEEDS)
    assert result.returncode == 0, result.stderr
    assert "TOTAL                                3          3    100%     3/3" in result.stdout


def test_coverage_reports_invalid_case_files(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("schema: 2\ncase_id: X\n")
    result = run_cli("coverage", SEEDS, tmp_path)
    assert result.returncode == 3
    assert "bad.yaml:1: error: claim: required field is missing" in result.stderr


def test_rules_list_shows_every_topic_with_its_edition_citation_and_examples() -> None:
    result = run_cli("rules", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rule", "topic", "guideline", "in", "force", "citation", "services", "criteria",
                                "practice", "examples"]
    row = next(line for line in lines if line.startswith("CPMTG09-PM "))
    assert "cpmtg_2009 (MTUS)" in row and "2009-07-18 to 2016-07-27" in row and "pp. 98-99" in row
    assert row.rstrip().endswith("3")


def test_rule_catalogue_doc_is_current() -> None:
    result = run_cli("rules", "list", "--markdown")
    doc = (RULES.parent / "docs" / "rules.md").read_text()
    assert result.stdout in doc, "regenerate: imr-rules rules list --markdown (into docs/rules.md)"
