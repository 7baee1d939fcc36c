"""Criterion provenance: reference sections in ``sources``, ``basis: reviewer_practice`` with a reason,
and the counts in ``rules list``."""

from __future__ import annotations

import re
from pathlib import Path

from imr_rules.engine.knowledge_base import load_rule_base

from .conftest import run_cli

CHRONIC = Path("physical_medicine") / "chronic_pm_2009.yaml"
SOURCES_LINE = '    sources: ["mtus-reference.md 2.1 (pp. 98-99) [I]"]\n'


def _edit(rules: Path, old: str, new: str) -> None:
    path = rules / CHRONIC
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_every_shipped_criterion_names_a_reference_section() -> None:
    rule_base, diagnostics = load_rule_base(None)
    assert not [d for d in diagnostics if "names no reference section" in d.message]
    for topic in rule_base.topics:
        for criterion in topic.criteria:
            assert criterion.sources, criterion.key
            assert all("mtus-reference.md" in s or "mtus-current-reference.md" in s for s in criterion.sources), \
                criterion.key


def test_a_criterion_without_sources_is_a_warning_with_file_and_line(rules_copy: Path) -> None:
    _edit(rules_copy, SOURCES_LINE, "")
    result = run_cli("validate", rules_copy, "--no-examples")
    assert result.returncode == 0, result.stderr
    assert re.search(r"chronic_pm_2009\.yaml:\d+: warning: criteria\[0\]\.sources: criterion 'within_allowance' "
                     r"names no reference section", result.stderr)
    shipped = run_cli("validate", "--no-examples").stdout.split(" topic rules")[0]
    assert result.stdout.startswith(shipped)  # a warning never drops the topic


def test_reviewer_practice_needs_a_reason(rules_copy: Path) -> None:
    _edit(rules_copy, SOURCES_LINE, SOURCES_LINE + "    basis: reviewer_practice\n")
    result = run_cli("validate", rules_copy, "--no-examples")
    assert result.returncode == 4
    assert "follows reviewer practice but gives no reason" in result.stderr


def test_reviewer_practice_is_counted_and_listed_with_its_reason(rules_copy: Path) -> None:
    _edit(rules_copy, SOURCES_LINE, SOURCES_LINE + "    basis: reviewer_practice\n"
          "    reason: reviewers count every prior visit of the region\n")
    listed = run_cli("rules", "list", "--rules", rules_copy)
    assert listed.returncode == 0, listed.stderr
    shipped = run_cli("rules", "list")
    count = int(re.search(r"\((\d+) marked basis: reviewer_practice", shipped.stdout).group(1))  # type: ignore[union-attr]
    assert f"({count + 1} marked basis: reviewer_practice, 0 without sources)" in listed.stdout
    criteria = run_cli("rules", "list", "--criteria", "--rules", rules_copy).stdout
    assert "within_allowance" in criteria
    assert "[reviewer practice: reviewers count every prior visit of the region]" in criteria
    assert "mtus-reference.md 2.1 (pp. 98-99) [I]" in criteria
