"""The blind second encodings: each pairs with its hand-made case, and the variance tool reads them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from imr_rules.cases.reader import read_case
from imr_rules.engine.knowledge_base import default_rules_dir
from imr_rules.regression.split import split_of
from tools.encoder_variance import figures, pairs

from .conftest import SEEDS, run_cli

SECOND = SEEDS.parent / "encoder_variance"
HISTORICAL = SEEDS.parent / "historical"


@pytest.mark.parametrize("path", sorted(SECOND.glob("*.yaml")), ids=lambda p: p.stem)
def test_a_second_encoding_is_of_a_tune_letter_with_the_hand_made_items_and_outcomes(path: Path) -> None:
    second, reference = read_case(path), read_case(HISTORICAL / path.name)
    assert split_of(second.case_id) == "tune"  # never a check letter: check stays unseen
    assert [i.id for i in second.requested_items] == [i.id for i in reference.requested_items]
    assert second.recorded == reference.recorded


def test_the_variance_tool_pairs_every_decided_item_of_both_encodings() -> None:
    found = pairs(SECOND, HISTORICAL, default_rules_dir())
    items = sum(len(read_case(p).requested_items) for p in SECOND.glob("*.yaml"))
    assert len(found) == items
    for second in (False, True):
        result = figures(found, second)
        assert result.items == sum(p.second.recorded_decision in ("Upheld", "Overturned") for p in found)
        assert 0 <= result.binary.tp <= result.overturned_total <= result.items


def test_validate_takes_a_folder_of_cases() -> None:
    result = run_cli("validate", default_rules_dir(), SECOND, "--no-examples")
    assert result.returncode == 0, result.stderr
    assert f"{len(list(SECOND.glob('*.yaml')))} case(s) valid" in result.stdout
