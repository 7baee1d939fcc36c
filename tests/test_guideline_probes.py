"""Guideline probes: cases written from the reference, blind to the rules, each item with the decision its
author expects and the reference section it rests on; `imr-rules regress` measures the rules on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from imr_rules.cases.reader import read_case

from .conftest import SEEDS, run_cli

PROBES = SEEDS.parent / "guideline_probes"


@pytest.mark.parametrize("path", sorted(PROBES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_probe_item_has_an_expected_decision_citing_a_reference_section(path: Path) -> None:
    case = read_case(path)
    assert case.case_id == path.stem
    assert case.recorded is not None
    expected = {r.item: r for r in case.recorded.items}
    assert set(expected) == {i.id for i in case.requested_items}
    for record in expected.values():
        assert record.guideline.startswith("mtus-reference.md ") and any(ch.isdigit() for ch in record.guideline)


def test_regress_measures_the_rules_on_the_probes() -> None:
    result = run_cli("regress", PROBES, "--no-progress")
    assert result.returncode in (0, 1), result.stderr  # 1: disagreements listed
    items = sum(len(read_case(p).requested_items) for p in PROBES.glob("*.yaml"))
    assert f"Regression: {items} recorded items in {len(list(PROBES.glob('*.yaml')))} cases" in result.stdout
