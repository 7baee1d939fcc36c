"""Track record per rule: ``rules stats`` tallies decided and agreed items; ``explain`` shows the deciding rule's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from imr_rules.review.track_record import Tally, TrackRecord, record_lines

from .conftest import SEEDS, run_cli

HISTORICAL = SEEDS.parent / "historical"


def test_stats_tally_every_decided_item_under_its_rule(tmp_path: Path) -> None:
    target = tmp_path / "track_record.json"
    result = run_cli("rules", "stats", HISTORICAL, SEEDS, "--write", target)
    assert result.returncode == 0, result.stderr
    data = json.loads(target.read_text())
    assert data["measured"] and re.fullmatch(r"[0-9a-f]{12}", data["rule_base_version"])
    regress = run_cli("regress", HISTORICAL, SEEDS).stdout
    decided = int(re.search(r"Coverage \(items a rule decided\): \S+ \((\d+)/", regress).group(1))  # type: ignore[union-attr]
    agreed = int(re.search(r"items a rule decided: \S+ \((\d+)/", regress).group(1))  # type: ignore[union-attr]
    assert sum(t["decided"] for t in data["rules"].values()) == decided
    assert sum(t["agreed"] for t in data["rules"].values()) == agreed
    for key, tally in data["criteria"].items():
        rule = data["rules"][key.split("/")[0]]
        assert tally["agreed"] <= tally["decided"] <= rule["decided"]
    assert "decided" in result.stdout and "agreed" in result.stdout


def test_tune_split_counts_fewer_items(tmp_path: Path) -> None:
    every, tune = tmp_path / "all.json", tmp_path / "tune.json"
    run_cli("rules", "stats", HISTORICAL, "--write", every)
    run_cli("rules", "stats", HISTORICAL, "--split", "tune", "--write", tune)
    total = sum(t["decided"] for t in json.loads(every.read_text())["rules"].values())
    assert 0 < sum(t["decided"] for t in json.loads(tune.read_text())["rules"].values()) < total


def test_explain_shows_the_deciding_rules_record(rules_copy: Path) -> None:
    stats = run_cli("rules", "stats", HISTORICAL, SEEDS, "--rules", rules_copy, "--write",
                    rules_copy / "track_record.json")
    assert stats.returncode == 0, stats.stderr
    data = json.loads((rules_copy / "track_record.json").read_text())
    pstg = data["rules"]["CPMTG09-PM"]
    result = run_cli("explain", SEEDS / "seed-001-lumbar-pt.yaml", "--rules", rules_copy)
    assert result.returncode == 0, result.stderr
    expected = f"Track record: CPMTG09-PM {Tally(pstg['decided'], pstg['agreed']).words()}"
    assert re.fullmatch(r"decided \d+ historical items?; reviewers agreed on \d+", Tally(**pstg).words())
    assert expected in result.stdout
    assert f"with rule base {data['rule_base_version']})" in result.stdout


def test_explain_without_a_record_says_nothing_about_it(rules_copy: Path) -> None:
    (rules_copy / "track_record.json").unlink(missing_ok=True)
    result = run_cli("explain", SEEDS / "seed-000-cervical-fusion.yaml", "--rules", rules_copy)
    assert result.returncode == 0 and "Track record" not in result.stdout


def test_record_lines_mark_a_record_from_another_rule_base() -> None:
    record = TrackRecord("2026-12-01", "aaaaaaaaaaaa", ("cases/historical",), {"R": Tally(41, 39)},
                         {"R/c": Tally(5, 4)})
    lines = record_lines(record, "R", ["R/c"], "bbbbbbbbbbbb")
    assert lines[0] == ("  Track record: R decided 41 historical items; reviewers agreed on 39 (measured 2026-12-01 "
                        "with rule base aaaaaaaaaaaa, an earlier rule base)")
    assert lines[1] == "    R/c: decided 5 historical items; reviewers agreed on 4"
    assert record_lines(record, "OTHER", [], "aaaaaaaaaaaa")[0].startswith("  Track record: OTHER decided no")
    assert record_lines(None, "R", [], "x") == []
