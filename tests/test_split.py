"""The tune/check split of the dev letters: fixed by a documented hash, reported separately by regress."""

from __future__ import annotations

import hashlib
import re

import pytest

from imr_rules.regression.split import split_of

from .conftest import SEEDS, run_cli

HISTORICAL = SEEDS.parent / "historical"


def test_the_split_is_the_documented_hash_of_the_case_number() -> None:
    for path in sorted(HISTORICAL.glob("CM*.yaml")):
        number = path.stem
        expected = "check" if int(hashlib.sha256(number.encode()).hexdigest(), 16) % 3 == 0 else "tune"
        assert split_of(number) == expected


def test_seeds_and_other_cases_are_tune() -> None:
    assert split_of("SEED-000") == split_of("SEED-001") == "tune"
    assert split_of("EX-TOPICAL-1") == "tune"


def test_about_a_third_of_the_dev_letters_are_check() -> None:
    splits = [split_of(p.stem) for p in HISTORICAL.glob("CM*.yaml")]
    assert 0.25 < splits.count("check") / len(splits) < 0.42


def test_regress_reports_tune_and_check_and_lists_only_tune_disagreements() -> None:
    result = run_cli("regress", HISTORICAL, SEEDS)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    table = out.split("Tune and check")[1].split("Per category")[0]
    for figure in ("coverage", "agreement, all items", "Overturned recall", "Overturned precision", "MCC"):
        assert re.search(rf"^  {figure}\s", table, flags=re.M), figure
    assert re.search(r"^  figure\s+all\s+tune\s+check$", table, flags=re.M)
    listed = re.findall(r"^  (\S+)/\d+ ", out.split("Disagreements, tune items")[1], flags=re.M)
    assert listed and all(split_of(case) == "tune" for case in listed)
    assert "do not tune rules on check items" in out


def test_check_disagreements_only_on_request_with_a_warning_in_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = run_cli("regress", HISTORICAL, "--show-check-disagreements")
    listed = re.findall(r"^  (\S+)/\d+ ", shown.stdout.split("Disagreements, check items")[1], flags=re.M)
    assert all(split_of(case) == "check" for case in listed)
    monkeypatch.setenv("COLUMNS", "200")
    help_text = run_cli("regress", "--help").stdout
    assert "--show-check-disagreements" in help_text and "NOT" in help_text
