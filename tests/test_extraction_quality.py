"""Extraction quality: the scoring rules on hand-made gold/extracted pairs, and the measurement on the dev letters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imr_rules.cases.v1 import Case
from imr_rules.intake.letters import LetterItem, Span
from imr_rules.intake.terms import BodyRegion, Service
from tools.extraction_quality import (
    FACTS,
    NOT_DOCUMENTED,
    GoldItem,
    QualityReport,
    Range,
    Tally,
    check_alignment,
    diagnosis_similarity,
    evaluate,
    gold_regions,
    gold_work_status,
    guideline_ids,
    judge,
    match_diagnoses,
    normalise_specialty,
    page_numbers,
    parse_bool,
    parse_count,
    parse_pain,
    read_annotations,
    region_matches,
    render_markdown,
    render_text,
    score_fact,
    service_matches,
    weeks_match,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
SPECS = {spec.name: spec for spec in FACTS}


def _case(clinical: dict[str, Any] | None = None, injury: str = "2016-11-01", request: str = "2016-12-06") -> Case:
    return Case.model_validate({
        "case_id": "T1", "claim": {"injury_date": injury}, "request_date": request,
        "requested_items": [{"id": "1", "description": "synthetic", "service": "physical_therapy",
                             "body_region": "lumbar"}],
        "clinical": clinical or {}})


# --- the comparison rule ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("gold", "extracted", "outcome"), [
    (5, 5, "tp"),
    (5, 6, "wrong"),
    (5, None, "fn"),
    (NOT_DOCUMENTED, None, "tn"),
    (NOT_DOCUMENTED, 6, "fp"),
])
def test_judge(gold: Any, extracted: Any, outcome: str) -> None:
    assert judge(gold, extracted, lambda g, e: g == e) == outcome


def test_tally_counts_a_wrong_value_as_fp_and_fn_and_leaves_undefined_ratios_none() -> None:
    tally = Tally()
    for outcome in ("tp", "tp", "wrong", "fn", "tn", "skip"):
        tally.count(outcome)
    assert (tally.tp, tally.fp, tally.fn, tally.tn, tally.gold, tally.skipped) == (2, 1, 2, 1, 5, 1)
    assert tally.precision == pytest.approx(2 / 3) and tally.recall == pytest.approx(0.5)
    empty = Tally()
    empty.count("fn")
    assert empty.precision is None and empty.recall == 0.0
    assert Tally().recall is None


# --- gold values ------------------------------------------------------------------------------------------------

def test_gold_counts_ranges_and_unknown() -> None:
    assert parse_count(6) == Range(6, 6)
    assert parse_count("4-5") == Range(4, 5)
    assert parse_count("unknown") is NOT_DOCUMENTED
    assert parse_count("at least 6 (count unclear)") is None
    assert parse_count(True) is None


def test_gold_pain_scores() -> None:
    assert parse_pain(8) == Range(8, 8)
    assert parse_pain("9-10/10") == Range(9, 10)
    assert parse_pain("2-3/10 (from 7)") == Range(2, 3)
    assert parse_pain("severe") is None
    assert Range(2, 3).contains(4, tolerance=1) and not Range(2, 3).contains(4.5, tolerance=1)


def test_gold_booleans() -> None:
    assert parse_bool(False) is False and parse_bool([]) is False
    assert parse_bool("burning after meals") is None
    assert parse_bool("burning after meals", text_means_present=True) is True


# --- clinical facts ---------------------------------------------------------------------------------------------

def _pt(visits: int | None = None, improvement: str | None = None, kind: str = "physical_therapy") -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind}
    if visits is not None:
        entry["visits_completed"] = visits
    if improvement is not None:
        entry["functional_improvement"] = improvement
    return entry


@pytest.mark.parametrize(("gold", "treatments", "outcome"), [
    (6, [_pt(6)], "tp"),
    ("4-5", [_pt(5)], "tp"),
    (6, [_pt(8)], "wrong"),
    (6, [_pt(4), _pt(6, kind="occupational_therapy")], "tp"),
    (6, [_pt(6, kind="chiropractic")], "fn"),
    (6, None, "fn"),
    ("unknown", None, "tn"),
    ("unknown", [_pt(6)], "fp"),
    ("4+ plus some more", [_pt(6)], "skip"),
])
def test_prior_sessions(gold: Any, treatments: list[dict[str, Any]] | None, outcome: str) -> None:
    clinical = {"prior_treatment": treatments} if treatments is not None else {}
    assert score_fact(SPECS["prior_pt_sessions"], gold, _case(clinical))[0] == outcome


@pytest.mark.parametrize(("gold", "pain", "outcome"), [
    (8, 8, "tp"), (8, 7, "tp"), (8, 5, "wrong"), (8, None, "fn"), ("6-8/10", 7, "tp"), ("2-3/10 (from 7)", 7, "wrong"),
])
def test_pain_score_within_one(gold: Any, pain: float | None, outcome: str) -> None:
    clinical = {"pain_score": pain} if pain is not None else {}
    assert score_fact(SPECS["pain_score"], gold, _case(clinical))[0] == outcome


@pytest.mark.parametrize(("flags", "outcome"), [
    ({"myelopathy": "absent"}, "tp"),
    ("none", "tp"),
    ({}, "fn"),
    ({"myelopathy": "absent", "suspected_tumor": "present"}, "wrong"),
])
def test_red_flags_none_documented(flags: Any, outcome: str) -> None:
    assert score_fact(SPECS["red_flags"], [], _case({"red_flags": flags}))[0] == outcome


@pytest.mark.parametrize(("gold", "treatments", "outcome"), [
    (False, [_pt(improvement="absent")], "tp"),
    (False, [_pt()], "fn"),
    (False, [_pt(improvement="absent"), _pt(improvement="present", kind="chiropractic")], "wrong"),
    (True, [_pt(improvement="present")], "tp"),
])
def test_functional_improvement(gold: bool, treatments: list[dict[str, Any]], outcome: str) -> None:
    spec = SPECS["functional_improvement_documented"]
    assert score_fact(spec, gold, _case({"prior_treatment": treatments}))[0] == outcome


@pytest.mark.parametrize(("neurologic", "outcome"), [
    ({"sensory_loss": "absent", "motor_weakness": "absent"}, "tp"),
    ({"sensory_loss": "absent", "motor_weakness": "present"}, "wrong"),
    ({"radicular_symptoms": "present"}, "fn"),
])
def test_neuro_deficit_false(neurologic: dict[str, str], outcome: str) -> None:
    assert score_fact(SPECS["neuro_deficit"], False, _case({"neurologic": neurologic}))[0] == outcome


def test_work_status_weeks_and_finding_facts() -> None:
    assert gold_work_status("TTD psych") == frozenset({"temporarily_totally_disabled"})
    assert gold_work_status("off work") == frozenset({"temporarily_totally_disabled", "not_working"})
    assert gold_work_status("volunteer") is None
    work = SPECS["work_status"]
    assert score_fact(work, "TTD", _case({"work_status": "temporarily_totally_disabled"}))[0] == "tp"
    assert score_fact(work, "full duty", _case({"work_status": "modified_duty"}))[0] == "wrong"
    assert score_fact(work, "full duty", _case())[0] == "fn"
    weeks = SPECS["weeks_since_injury"]
    assert score_fact(weeks, 5, _case(request="2016-12-06"))[0] == "tp"  # 5 weeks after 11/01
    assert score_fact(weeks, 9, _case(request="2016-12-06"))[0] == "wrong"
    assert weeks_match(20, 23) and not weeks_match(20, 24)
    surgery = SPECS["surgery_planned"]
    assert score_fact(surgery, False, _case({"surgery_planned": "absent"}))[0] == "tp"
    assert score_fact(surgery, False, _case({"surgery_planned": "present"}))[0] == "wrong"
    assert score_fact(surgery, False, _case())[0] == "fn"
    assert score_fact(SPECS["gi_symptoms"], "heartburn", _case({"dyspepsia": "present"}))[0] == "tp"
    cures = SPECS["cures_checked"]
    assert score_fact(cures, False, _case({"opioid_monitoring": {"cures_checked": "absent"}}))[0] == "tp"
    assert score_fact(cures, False, None)[0] == "fn"


# --- vocabulary tables ------------------------------------------------------------------------------------------

def test_service_categories() -> None:
    assert service_matches("physical_therapy", Service.occupational_therapy)
    assert service_matches("postsurgical_therapy", Service.physical_therapy)
    assert service_matches("other", Service.office_visit)
    assert not service_matches("other", Service.surgery)
    assert not service_matches("imaging_mri", Service.imaging_ct)
    assert service_matches("no_such_category", Service.other) is None


def test_body_regions() -> None:
    assert gold_regions(["wrist", "hand"]) == frozenset({BodyRegion.wrist_hand})
    assert gold_regions(["foot"]) == frozenset({BodyRegion.ankle_foot})
    assert gold_regions(["tail"]) is None
    assert region_matches(frozenset({BodyRegion.lumbar}), BodyRegion.lumbar)
    assert not region_matches(frozenset({BodyRegion.lumbar}), BodyRegion.multiple)
    assert region_matches(frozenset({BodyRegion.lumbar, BodyRegion.cervical}), BodyRegion.multiple)


def test_guideline_documents_and_pages() -> None:
    assert guideline_ids("MTUS Knee Complaints 2004") == frozenset({"acoem_2004_ch13"})
    assert guideline_ids("MTUS Low Back Complaints 2004 + Chronic Pain Medical Treatment 2016") == frozenset({
        "acoem_2004_ch12", "cpmtg_2016"})
    assert guideline_ids("Non-MTUS: Official Disability Guidelines (ODG) Knee, a topic.") == frozenset({"odg"})
    assert guideline_ids("Non-MTUS: some other society's guideline.") == frozenset({"other"})
    assert guideline_ids(None) == frozenset({"other"})
    assert guideline_ids("MTUS Unknown Document 2030") is None
    assert page_numbers("13, 261, 269") == {13, 261, 269}
    assert page_numbers("89-90") == {89, 90}


def test_reviewer_specialty_normalised() -> None:
    assert normalise_specialty("Physical Medicine & Rehabilitation") == \
        normalise_specialty("physical medicine and rehabilitation")
    assert normalise_specialty("Preventive Medicine, Public Health &") == "preventive medicine public health"


def test_diagnosis_overlap_rule() -> None:
    assert diagnosis_similarity("left knee sprain", "sprain of the left knee") == 1.0
    assert diagnosis_similarity("lumbar disc herniation", "cervical strain") == 0.0
    assert diagnosis_similarity("jammed finger joint right hand", "jammed joint of the right index finger") >= 0.5
    matched, missed, extra = match_diagnoses(["left knee sprain", "neck strain", "insomnia"],
                                             ["sprain of the left knee", "strain of the neck", "fascia"])
    assert len(matched) == 2 and missed == ["insomnia"] and extra == ["fascia"]


# --- annotations and alignment ----------------------------------------------------------------------------------

def test_annotations_grouped_ordered_and_numbering_checked(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    rows = [{"id": "x-CM99-0000001-2", "source_ref": "Case CM99-0000001"},
            {"id": "x-CM99-0000001-1", "source_ref": "Case CM99-0000001"},
            {"id": "x-CM99-0000002-2", "source_ref": "Case CM99-0000002"},
            {"id": "x-CM99-0000003", "source_ref": "Case CM99-0000003"}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    gold, issues = read_annotations(path)
    assert [item.number for item in gold["CM99-0000001"]] == [1, 2]
    assert {issue.letter for issue in issues} == {"CM99-0000002", "CM99-0000003"}


def _item(title: str, decision: str) -> LetterItem:
    return LetterItem(title=title, decision=decision, span=Span("x", 0, 1, "x"), service=Service.other,
                      body_region=BodyRegion.lumbar)


def test_alignment_reports_count_decision_and_title_mismatches() -> None:
    gold = [GoldItem(1, {"decision": "Upheld", "service": "lumbar MRI"}),
            GoldItem(2, {"decision": "Upheld", "service": "knee brace"}),
            GoldItem(3, {"decision": "Upheld", "service": "naproxen"})]
    items = [_item("Knee brace, hinged", "Upheld"), _item("MRI of the lumbar spine", "Overturned")]
    whats = [issue.what for issue in check_alignment("L", gold, items)]
    assert any("2 items extracted, 3 annotated" in what for what in whats)
    assert any("decision Overturned extracted" in what for what in whats)
    assert any("item 2's title is closer" in what for what in whats)
    assert check_alignment("L", gold[:1], [_item("Lumbar MRI without contrast", "Upheld")]) == []


# --- end to end on a synthetic letter ---------------------------------------------------------------------------

SYNTHETIC = """Case Number: CM99-0000009  Date Assigned: 01/05/2017 Date of Injury:  11/01/2016
Decision Date: 02/01/2017 UR Denial Date:  01/02/2017
Priority:  Standard Application
Received:
01/04/2017
Certification(s)/Specialty: Family Practice

CLINICAL CASE SUMMARY
A synthetic summary for this test: the worker is a 44 year old male seen on 12/06/2016 with back pain at
7/10. Diagnoses include lumbar strain.

IMR ISSUES, DECISIONS AND RATIONALES
Synthetic items.

Lumbar MRI for this synthetic test: Upheld

Claims Administrator guideline: Decision based on MTUS Low Back Complaints 2004.
(synthetic)
MAXIMUS guideline: Decision based on MTUS Low Back Complaints 2004, Section(s): Synthetic section.

Decision rationale: synthetic.
"""


def _synthetic(tmp_path: Path) -> tuple[Path, Path]:
    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "CM99-0000009.txt").write_text(SYNTHETIC, encoding="utf-8")
    row = {"id": "t-CM99-0000009-1", "source_ref": "Test CM99-0000009", "age": 44, "sex": "male",
           "date_of_injury": "2016-11-01", "request_date": "2016-12-06", "body_regions": ["lumbar"],
           "diagnoses": ["lumbar strain", "insomnia"], "service": "lumbar MRI", "service_category": "imaging_mri",
           "quantity": None, "facts": {"pain_score": 7, "weeks_since_injury": 5, "red_flags": [],
                                       "made_up_key": True},
           "decision": "Upheld", "guideline_cited": {"source": "MTUS Low Back Complaints 2004", "pages": None},
           "ur_denial_date": "2017-01-02", "imr_decision_date": "2017-02-01", "reviewer_specialty": "Family Practice"}
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return gold, letters


def test_evaluate_synthetic_letter(tmp_path: Path) -> None:
    gold, letters = _synthetic(tmp_path)
    report = evaluate(gold, letters)
    tp = {name: score.tally.tp for name, score in report.fields.items()}
    for name in ("age", "sex", "date_of_injury", "ur_denial_date", "imr_decision_date", "reviewer_specialty",
                 "request_date", "items_found", "decision", "service", "body_region", "guideline", "pain_score",
                 "weeks_since_injury"):
        assert tp[name] == 1, name
    assert report.fields["diagnoses"].tally.tp == 1 and report.fields["diagnoses"].tally.fn == 1
    assert report.fields["red_flags"].tally.fn == 1
    assert report.unscored_facts["made_up_key"] == 1
    assert report.fields["sessions"].tally.gold == 0
    assert "made_up_key (1)" in render_text(report, 1)


def test_script_prints_a_markdown_table(tmp_path: Path) -> None:
    gold, letters = _synthetic(tmp_path)
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "extraction_quality.py"), "--annotations",
                             str(gold), "--letters", str(letters), "--markdown", "--misses", "3"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "| field | level | gold | TP |" in result.stdout and "| decision | item | 1 | 1 |" in result.stdout
    assert "Misses:" in result.stdout
    missing = subprocess.run([sys.executable, str(ROOT / "scripts" / "extraction_quality.py"), "--letters",
                              str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert missing.returncode == 2


# --- the dev letters --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dev_report() -> QualityReport:
    if not (SHARED / "letters" / "dev").is_dir() or not (SHARED / "annotations" / "dev.jsonl").is_file():
        pytest.skip("shared letters or annotations not present")
    return evaluate(SHARED / "annotations" / "dev.jsonl", SHARED / "letters" / "dev")


def test_dev_letters_decisions_and_items(dev_report: QualityReport) -> None:
    assert dev_report.letters == 113 and not dev_report.letters_missing
    for name in ("decision", "items_found"):
        tally = dev_report.fields[name].tally
        assert tally.gold > 0 and tally.tp / tally.gold >= 0.95, (name, tally)


def test_dev_letters_every_field_row_is_sound(dev_report: QualityReport) -> None:
    for name, score in dev_report.fields.items():
        tally = score.tally
        assert tally.gold > 0, name
        assert tally.tp + tally.fn + tally.tn <= tally.gold, name  # each gold value is one of TP, FN, TN or FP
        for ratio in (tally.precision, tally.recall):
            assert ratio is None or 0.0 <= ratio <= 1.0, name
    table = render_markdown(dev_report)
    assert sum(line.startswith("| ") for line in table.splitlines()) == len(dev_report.fields) + 1


def test_dev_letters_dates_are_read_from_the_header(dev_report: QualityReport) -> None:
    for name in ("ur_denial_date", "imr_decision_date", "date_of_injury"):
        tally = dev_report.fields[name].tally
        assert tally.tp / tally.gold >= 0.95, (name, tally)


def test_extraction_against_a_hand_made_case_counts_facts_in_either() -> None:
    from imr_rules.cases.reader import parse_case
    from tools.extraction_vs_cases import score_pair

    def case(clinical: dict[str, object]) -> Any:
        return parse_case({"schema": 2, "case_id": "X", "claim": {"injury_date": "2016-01-04"},
                           "request_date": "2016-12-01", "clinical": clinical,
                           "requested_items": [{"id": "1", "description": "naproxen", "service": "nsaid",
                                                "regions": ["systemic"]}]})

    extracted = case({"medications": [{"name": "Norco", "drug_class": "opioid"}],
                      "findings": [{"concept": "sensory_loss", "status": "present", "region": "lumbar"}],
                      "work_status": "full_duty"})
    hand_made = case({"medications": [{"name": "Norco", "drug_class": "opioid"},
                                      {"name": "Soma", "drug_class": "muscle_relaxant"}],
                      "findings": [{"concept": "sensory_loss", "status": "absent", "region": "unknown"}]})
    tallies: dict[str, Tally] = {}
    score_pair(tallies, extracted, hand_made)
    meds = tallies["medications (drug classes in use)"]
    assert (meds.tp, meds.fp, meds.fn, meds.gold) == (1, 0, 1, 2)
    neuro = tallies["neurologic findings"]
    assert (neuro.tp, neuro.fp, neuro.fn) == (0, 1, 1)
    work = tallies["work status"]
    assert (work.tp, work.fp, work.fn, work.recall) == (0, 1, 0, None)
    assert "pain score" not in tallies  # neither case says anything
