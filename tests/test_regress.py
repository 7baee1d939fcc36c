"""`imr-rules regress`: metrics on the historical corpus, baselines and flips, JUnit, HTML, jobs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import yaml

from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge_base import load_rule_base
from imr_rules.regression.runner import BinaryCounts, case_files, evaluate_files
from imr_rules.regression.split import split_of
from imr_rules.rulebase.compiler import compile_rule_base

from .conftest import RULES, SEEDS, run_cli

HISTORICAL = SEEDS.parent / "historical"
ACUTE_PM = Path("physical_medicine") / "acute_pm_acoem_2004.yaml"


def _decisions(rules: Path) -> dict[str, str]:
    rule_base, _ = load_rule_base(rules)
    engine = Evaluator(compile_rule_base(rule_base))
    return {o.key: o.decision for r in evaluate_files(case_files([HISTORICAL]), engine) for o in r.outcomes}


def test_regress_prints_the_metrics() -> None:
    result = run_cli("regress", HISTORICAL, SEEDS)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Regression: 242 recorded items in 115 cases")
    for needle in ("Confusion matrix", "Coverage (items a rule decided)", "Overturned recall:", "precision:",
                   "balanced accuracy:", "MCC:", "Guideline agreement, same document:", "Per category:",
                   "Disagreements, tune items ("):
        assert needle in out
    assert "\r" not in result.stderr  # no progress bar outside a terminal


def test_results_are_identical_whatever_the_job_count() -> None:
    one = run_cli("regress", HISTORICAL, "--jobs", "1")
    two = run_cli("regress", HISTORICAL, "--jobs", "2")
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout


def test_baseline_reports_exactly_the_items_a_threshold_change_flips(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert run_cli("regress", HISTORICAL, "--write-baseline", baseline).returncode == 0
    changed = tmp_path / "rules"
    shutil.copytree(RULES, changed)
    rule_file = changed / ACUTE_PM
    text = rule_file.read_text()
    assert "test: pm.total_visits <= 10" in text
    rule_file.write_text(text.replace("test: pm.total_visits <= 10", "test: pm.total_visits <= 20"))
    before, after = _decisions(RULES), _decisions(changed)
    expected = {key for key in before if before[key] != after[key]}
    assert expected, "the threshold change should flip some dev items"

    result = run_cli("regress", HISTORICAL, "--rules", changed, "--baseline", baseline)
    assert result.returncode == 5
    section = result.stdout.split("Changes since the baseline")[1]
    reported = set(re.findall(r"^  (CM\d\d-\d+/\d+) ", section, flags=re.M))
    assert reported == {key for key in expected if split_of(key.split("/")[0]) == "tune"}
    shown = run_cli("regress", HISTORICAL, "--rules", changed, "--baseline", baseline, "--show-check-disagreements")
    section = shown.stdout.split("Changes since the baseline")[1]
    assert set(re.findall(r"^  (CM\d\d-\d+/\d+) ", section, flags=re.M)) == expected
    assert all("[rule ACOEM04-PM-ACUTE]" in line for line in section.splitlines()[1:] if line.startswith("  CM"))
    assert f"{len(expected)} unexpected change(s) since the baseline" in result.stderr

    accept = tmp_path / "accept.yaml"
    accept.write_text(yaml.safe_dump({"accepted": [{"item": k, "reason": "allowance raised on purpose"}
                                                    for k in sorted(expected)]}))
    accepted = run_cli("regress", HISTORICAL, "--rules", changed, "--baseline", baseline, "--accept", accept)
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted: allowance raised on purpose" in accepted.stdout


def test_junit_and_html_reports(tmp_path: Path) -> None:
    junit, page = tmp_path / "r.xml", tmp_path / "r.html"
    assert run_cli("regress", HISTORICAL, "--junit", junit, "--html", page).returncode == 0
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "239"
    failures = int(suite.get("failures", "0"))
    assert failures == len(suite.findall("testcase/failure"))
    assert int(suite.get("skipped", "0")) == len(suite.findall("testcase/skipped"))
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "Confusion matrix" in text
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained


def test_binary_metrics() -> None:
    counts = BinaryCounts(tp=6, fn=4, fp=2, tn=88)
    assert counts.recall == 0.6 and counts.precision == 0.75
    assert abs((counts.balanced_accuracy or 0) - (0.6 + 88 / 90) / 2) < 1e-12
    assert abs((counts.mcc or 0) - (6 * 88 - 2 * 4) / ((8 * 10 * 90 * 92) ** 0.5)) < 1e-12


def test_a_baseline_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    result = run_cli("regress", SEEDS, "--baseline", bad)
    assert result.returncode == 3
    assert "cannot read the baseline" in result.stderr and "Traceback" not in result.stderr


def test_baseline_json_shape(tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    run_cli("regress", SEEDS, "--write-baseline", baseline)
    data = json.loads(baseline.read_text())
    assert data["baseline_version"] == 1
    assert data["items"]["SEED-001/1"] == {"decision": "Upheld", "basis": "not_met", "rule": "CPMTG09-PM",
                                           "guideline": "cpmtg_2009"}


def test_accept_with_a_broken_rule_base_exits_4_and_a_broken_accept_file_exits_3(rules_copy: Path,
                                                                                   tmp_path: Path) -> None:
    accept = tmp_path / "accept.yaml"
    accept.write_text(yaml.safe_dump({"accepted": []}))
    topic = rules_copy / "imaging" / "cervical_xray_acoem_2004.yaml"
    topic.write_text(topic.read_text().replace("guideline: acoem_2004_ch8", "guideline: nope"))
    broken_rules = run_cli("regress", SEEDS, "--rules", rules_copy, "--accept", accept)
    assert broken_rules.returncode == 4
    assert "cervical_xray_acoem_2004.yaml:5: error: guideline: unknown guideline 'nope'" in broken_rules.stderr
    accept.write_text("accepted: [{item: x}]\n")
    broken_accept = run_cli("regress", SEEDS, "--accept", accept)
    assert broken_accept.returncode == 3
    assert "accept.yaml" in broken_accept.stderr
