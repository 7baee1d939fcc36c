"""Letter intake: synthetic letter texts for each field, and every shared letter against the annotations."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from imr_rules.cli import app
from imr_rules.intake.extract import case_document, extract_letter
from imr_rules.intake.letters import parse_citation

SHARED = Path(__file__).resolve().parents[2] / "shared"

HEADER = """Case Number: CM99-0000001  Date Assigned: 01/05/2017 Date of Injury:  11/01/2016
Decision Date: 02/01/2017 UR Denial Date:  01/02/2017
Priority:  Standard Application
Received:
01/04/2017
Certification(s)/Specialty: Orthopedic Surgery

CLINICAL CASE SUMMARY
Synthetic summary written for this test.

"""
ISSUES = """
IMR ISSUES, DECISIONS AND RATIONALES
Synthetic items follow.

Physical therapy 2 times a week for 3 weeks for the lumbar spine: Overturned

Claims Administrator guideline: Decision based on MTUS Low Back Complaints 2004.
(synthetic)
MAXIMUS guideline: Decision based on MTUS Chronic Pain Medical Treatment 2016,
Section(s): Synthetic test section.

Decision rationale: the synthetic synthetic rationale that must never be read for facts: no numbness here.

Knee MRI, right side: Upheld

Claims Administrator guideline: Decision based on MTUS Knee Complaints 2004.
(synthetic)
MAXIMUS guideline: Decision based on Non-MTUS Citation Official Disability Guidelines
(ODG) Knee, MRI.

Decision rationale: the synthetic synthetic.
"""


def _letter(tmp_path: Path, summary: str, issues: str = ISSUES, name: str = "letter.txt") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + summary + "\n" + issues, encoding="utf-8")
    return path


def _case(tmp_path: Path, summary: str) -> dict[str, object]:
    """The facts extracted, in the version 1 layout intake gathers them in (the v2 case is checked elsewhere)."""
    result = extract_letter(_letter(tmp_path, summary))
    assert result.case is not None and result.legacy is not None, [d.render() for d in result.problems]
    data: dict[str, object] = result.legacy.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    return data


def test_header_items_and_citations(tmp_path: Path) -> None:
    data = _case(tmp_path, "The injured worker is a 52 year old female. Evaluated on 12/20/2016 for low back pain.")
    assert data["case_id"] == "CM99-0000001"
    assert data["claim"] == {"injury_date": "2016-11-01"}
    assert data["patient"] == {"age": 52, "sex": "female"}
    assert data["request_date"] == "2016-12-20"
    items = data["requested_items"]
    assert isinstance(items, list)
    assert items[0] == {"id": "1", "description": "Physical therapy 2 times a week for 3 weeks for the lumbar spine",
                        "service": "physical_therapy", "body_region": "lumbar", "frequency_per_week": 2,
                        "duration_weeks": 3}
    assert items[1]["service"] == "imaging_mri" and items[1]["body_region"] == "knee"
    recorded = data["recorded"]
    assert isinstance(recorded, dict)
    assert recorded["decision_date"] == "2017-02-01"
    assert recorded["ur_denial_date"] == "2017-01-02" and recorded["application_received"] == "2017-01-04"
    assert recorded["reviewer_specialty"] == "Orthopedic Surgery" and recorded["priority"] == "Standard"
    assert recorded["items"][0] == {"item": "1", "decision": "Overturned", "guideline": "cpmtg_2016",
                                    "section": "Synthetic test section",
                                    "claims_administrator_guideline": "acoem_2004_ch12"}
    assert recorded["items"][1]["guideline"] == "odg" and recorded["items"][1]["decision"] == "Upheld"


def test_citation_parsing_pages_and_several_documents() -> None:
    cite = parse_citation("Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 98-99.")
    assert cite.primary.guideline == "cpmtg_2009" and cite.primary.pages == "98-99"
    cite = parse_citation("Decision based on MTUS Neck and Upper Back Complaints 2004, Section(s): Summary, "
                          "and Forearm, Wrist, and Hand Complaints 2004, Section(s): Initial Care.")
    assert [ref.guideline for ref in cite.mtus] == ["acoem_2004_ch8", "acoem_2004_ch11"]
    assert cite.mtus[0].section == "Summary"
    assert parse_citation("The Expert Reviewer did not cite any medical evidence.").primary.guideline == "other"


def _findings(tmp_path: Path, summary: str) -> list[dict[str, Any]]:
    """The findings of the version 2 case, as written in a case file."""
    result = extract_letter(_letter(tmp_path, summary))
    assert result.case is not None, [d.render() for d in result.problems]
    return [f.model_dump(mode="json", exclude_none=True) for f in result.case.clinical.findings]


def _statuses(tmp_path: Path, summary: str) -> dict[str, str]:
    return {f["concept"]: f["status"] for f in _findings(tmp_path, summary)}


@pytest.mark.parametrize(("summary", "concept", "expected"), [
    ("The patient reports numbness radiating to the left leg.", "radiating_paresthesia", "present"),
    ("The patient denies numbness or tingling.", "paresthesia", "absent"),
    ("There was possible numbness of the hand.", "paresthesia", None),
    ("Exam showed decreased sensation in the L5 dermatome.", "dermatomal_sensory_loss", "present"),
    ("There was no weakness on examination.", "motor_weakness", "absent"),
    ("Utilization review noted weakness of the leg.", "motor_weakness", None),
])
def test_neurologic_findings_with_negation_and_uncertainty(tmp_path: Path, summary: str, concept: str,
                                                           expected: str | None) -> None:
    assert _statuses(tmp_path, summary).get(concept) == expected


def test_findings_take_region_side_date_and_grade_from_their_sentence(tmp_path: Path) -> None:
    findings = _findings(tmp_path, "On 12/20/2016 examination of the lumbar spine showed spasm. Strength was 4/5 "
                                   "in the left leg. McMurray test was positive.")
    by_concept = {f["concept"]: f for f in findings}
    assert by_concept["muscle_spasm"] == {"concept": "muscle_spasm", "status": "present", "region": "lumbar",
                                          "source": "examination", "date": "2016-12-20"}
    assert by_concept["motor_weakness"]["region"] == "lower_extremity"
    assert by_concept["motor_weakness"]["side"] == "left" and by_concept["motor_weakness"]["value"] == "4/5"
    assert by_concept["mcmurray_test"]["region"] == "knee"  # the only region the test applies to


def test_red_flags_spasm_work_status_and_pain(tmp_path: Path) -> None:
    summary = ("There were no red flags. Palpable spasm was noted. Pain was rated 6 out of 10. "
               "She remains on modified duty.")
    assert _statuses(tmp_path, summary) == {"red_flag": "absent", "muscle_spasm": "present"}
    clinical = _clinical(tmp_path, summary)
    assert clinical["pain_score"] == 6
    assert clinical["work_status"] == "modified_duty"


def test_diagnoses_are_not_findings_except_symptoms_named_as_diagnoses(tmp_path: Path) -> None:
    statuses = _statuses(tmp_path, "Diagnoses include lumbar strain with muscle spasm, right wrist fracture and "
                                   "sciatica.")
    assert statuses == {"radicular_symptoms": "present"}  # a diagnosed fracture is a diagnosis, not a suspicion


@pytest.mark.parametrize("summary", [
    "She is receiving treatment for a left radial head fracture.",
    "He was diagnosed with a dislocation of the right shoulder in 2015.",
])
def test_a_fracture_already_diagnosed_or_treated_is_no_red_flag(tmp_path: Path, summary: str) -> None:
    assert "suspected_fracture_or_dislocation" not in _statuses(tmp_path, summary)


def test_prior_treatment_count_and_functional_improvement(tmp_path: Path) -> None:
    data = _case(tmp_path, "She completed 8 sessions of physical therapy with no documentation of functional "
                           "improvement. Acupuncture helped with improved function.")
    treatments = {t["type"]: t for t in data["clinical"]["prior_treatment"]}  # type: ignore[index]
    assert treatments["physical_therapy"]["visits_completed"] == 8
    assert treatments["physical_therapy"]["functional_improvement"] == "absent"
    assert treatments["acupuncture"]["functional_improvement"] == "present"


def _clinical(tmp_path: Path, summary: str) -> dict[str, Any]:
    clinical = _case(tmp_path, summary).get("clinical", {})
    assert isinstance(clinical, dict)
    return clinical


NSAID_ISSUES = ISSUES.replace("Knee MRI, right side", "Naproxen 550 mg #60")


def _medications_of(tmp_path: Path, summary: str, issues: str = NSAID_ISSUES) -> list[dict[str, Any]]:
    result = extract_letter(_letter(tmp_path, summary, issues))
    assert result.legacy is not None
    medications: list[dict[str, Any]] = result.legacy.model_dump(mode="json", exclude_none=True)["clinical"].get(
        "medications") or []
    return [{k: v for k, v in m.items() if v not in (None, "not_documented")} for m in medications]


def test_medications_in_use_with_start_and_response(tmp_path: Path) -> None:
    medications = _medications_of(tmp_path, "Seen on 08/02/2016. She has been taking Norco10/325 since 06/01/2016 "
                                            "with 40% pain relief. Evaluated on 12/20/2016. The provider asked for "
                                            "naproxen.")
    assert medications == [{"name": "Norco10/325", "drug_class": "opioid", "start_date": "2016-06-01",
                            "response": "present"}]


def test_medication_named_only_at_the_latest_visit_is_the_request(tmp_path: Path) -> None:
    summary = "On 10/02/2016 she was on cyclobenzaprine. On 12/20/2016 naproxen was prescribed."
    medications = _medications_of(tmp_path, summary)  # naproxen is the item under review
    assert [m["drug_class"] for m in medications] == ["muscle_relaxant"]
    assert medications[0]["start_date"] == "2016-10-02"
    # A drug of another class than the items under review, prescribed at the latest visit, is in use from then.
    medications = _medications_of(tmp_path, summary, ISSUES)
    assert [(m["drug_class"], m.get("start_date")) for m in medications] == [("muscle_relaxant", "2016-10-02"),
                                                                             ("nsaid", "2016-12-20")]


@pytest.mark.parametrize(("summary", "expected"), [
    ("Evaluated on 12/20/2016. She is not taking any medications at present.", []),
    ("Evaluated on 12/20/2016. Medication efficacy was not discussed.", None),
    ("On 11/02/2016 he reported no side effects from tramadol. Evaluated on 12/20/2016.", ["opioid"]),
])
def test_medication_list_documented_or_not(tmp_path: Path, summary: str, expected: list[str] | None) -> None:
    medications = _clinical(tmp_path, summary).get("medications")
    assert (None if medications is None else [m["drug_class"] for m in medications]) == expected


def test_opioid_monitoring(tmp_path: Path) -> None:
    clinical = _clinical(tmp_path, "A urine drug screen on 11/15/2016 was consistent. He denies side effects. "
                                   "Pain is 8/10 without medications and 4/10 with medications. There is no "
                                   "documentation of a CURES report.")
    assert clinical["opioid_monitoring"] == {"urine_drug_screen_recent": "present", "cures_checked": "absent",
                                             "adverse_effects_assessed": "present", "analgesia_documented": "present"}
    assert _clinical(tmp_path, "There is no documentation of side effects or of aberrant behavior.")[
        "opioid_monitoring"] == {"adverse_effects_assessed": "absent", "aberrant_behavior_assessed": "absent"}


def test_conservative_care_function_and_surgery(tmp_path: Path) -> None:
    clinical = _clinical(tmp_path, "Pain persists despite conservative treatment. She does a home exercise program. "
                                   "She has difficulty lifting. Surgery was recommended by the orthopedist.")
    assert clinical["conservative_care"] == {"failed": "present", "home_exercise_program": "present"}
    assert clinical["surgery_planned"] == "present"
    assert _statuses(tmp_path, "She has difficulty lifting.") == {"functional_deficit": "present"}
    summary = ("He is not a surgical candidate. No functional deficits were found on exam. "
               "The knee arthroscopy was authorized on 11/01/2016.")
    clinical = _clinical(tmp_path, summary)
    assert clinical["surgery_planned"] == "absent"
    assert _statuses(tmp_path, summary) == {"functional_deficit": "absent"}
    assert clinical["surgery_authorized"] == "present"


def test_gi_and_neuropathic_findings(tmp_path: Path) -> None:
    statuses = _statuses(tmp_path, "He denies GI upset. The leg pain is neuropathic in character.")
    assert statuses == {"dyspepsia": "absent", "neuropathic_pain": "present"}


@pytest.mark.parametrize("summary", [
    "Treatment to date has included medications and a brace.",
    "There is no record that she attended any physical therapy.",
])
def test_stated_treatment_history_documents_what_was_not_given(tmp_path: Path, summary: str) -> None:
    assert _clinical(tmp_path, summary)["prior_treatment"] == []


def test_treatment_history_clause_keeps_given_treatment(tmp_path: Path) -> None:
    clinical = _clinical(tmp_path, "Treatment to date has included 6 sessions of physical therapy, and acupuncture "
                                   "was recommended.")
    assert clinical["prior_treatment"] == [{"type": "physical_therapy", "visits_completed": 6}]


def test_visits_certified_when_review_modified_the_request(tmp_path: Path) -> None:
    issues = ISSUES.replace("Physical therapy 2 times a week for 3 weeks for the lumbar spine",
                            "Physical therapy 2 sessions for the lumbar spine")
    summary = ("On 01/02/2017 the utilization review modified the request. Physical therapy for 8 sessions "
               "for the lumbar spine was the original request.")
    result = extract_letter(_letter(tmp_path, summary, issues))
    assert result.legacy is not None and result.legacy.clinical.prior_treatment is not None
    [certified] = result.legacy.clinical.prior_treatment
    assert (certified.type, certified.visits_authorized, certified.visits_completed) == ("physical_therapy", 6, None)


def test_items_requested_with_a_surgery_are_linked_to_it(tmp_path: Path) -> None:
    issues = ISSUES.replace("Physical therapy 2 times a week for 3 weeks for the lumbar spine",
                            "Right knee arthroscopy with meniscectomy").replace(
        "Knee MRI, right side", "Associated surgical service: cold therapy unit")
    result = extract_letter(_letter(tmp_path, "Knee pain.", issues))
    assert result.case is not None
    surgery, cold = result.case.requested_items
    assert surgery.service == "surgery" and surgery.ancillary_to is None
    assert cold.ancillary_to == "1" and cold.body_region == "knee"


def test_dates_written_with_month_names(tmp_path: Path) -> None:
    data = _case(tmp_path, "She was hurt in an industrial injury of November 1, 2016. On an RFA form dated "
                           "December 20, 2016, therapy was requested.")
    assert data["request_date"] == "2016-12-20"


def test_diagnoses_imaging_surgery_and_provenance(tmp_path: Path) -> None:
    summary = ("Diagnoses included lumbar disc herniation and right knee sprain. An MRI of the lumbar spine on "
               "12/01/2016 revealed a disc protrusion. She is status post lumbar fusion on 05/01/2015.")
    path = _letter(tmp_path, summary)
    result = extract_letter(path)
    assert result.case is not None and result.legacy is not None
    case = result.legacy
    assert [(d.description, d.category, d.region) for d in result.case.diagnoses] == [
        ("lumbar disc herniation", "disc_disorder", "lumbar"), ("right knee sprain", "sprain_strain", "knee")]
    imaging = result.case.clinical.imaging
    assert imaging is not None and (imaging[0].kind, imaging[0].region, imaging[0].abnormal) == (
        "mri", "lumbar", "present")
    assert case.clinical.surgeries is not None and case.clinical.surgeries[0].procedure == "lumbar_fusion"
    text = path.read_text(encoding="utf-8")
    assert case.provenance
    for entry in case.provenance:
        assert entry.origin == "extracted" and entry.text
        assert " ".join(text[entry.start:entry.end].split()).startswith(entry.text)
    assert all(not entry.field.startswith("clinical") or entry.start < text.index("IMR ISSUES")
               for entry in case.provenance)


def test_facts_not_read_from_the_rationale(tmp_path: Path) -> None:
    data = _case(tmp_path, "The worker is a 40 year old male.")
    assert "neurologic" not in data.get("clinical", {})  # type: ignore[operator]


def test_bad_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    other = tmp_path / "other.txt"
    other.write_text("Dear customer, your invoice is attached.", encoding="utf-8")
    truncated = tmp_path / "truncated.txt"
    truncated.write_text(HEADER + "A 40 year old male.", encoding="utf-8")
    blank_pdf = tmp_path / "blank.pdf"
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with blank_pdf.open("wb") as handle:
        writer.write(handle)
    messages = {path.name: extract_letter(path) for path in (empty, other, truncated, blank_pdf)}
    assert all(result.case is None for result in messages.values())
    assert "empty" in messages["empty.txt"].problems[0].message
    assert "not an IMR" in messages["other.txt"].problems[0].message
    assert "truncated" in messages["truncated.txt"].problems[0].message
    assert "no text" in messages["blank.pdf"].problems[0].message
    unmappable = _letter(tmp_path, "A 40 year old male.", ISSUES.replace("Knee MRI, right side", "Zorbulator"),
                         "odd.txt")
    result = extract_letter(unmappable)
    assert result.case is not None and result.case.requested_items[1].service == "other"
    assert any("not in the vocabulary" in d.message for d in result.problems)
    runner = CliRunner()
    run = runner.invoke(app, ["extract", str(unmappable), str(empty), "-o", str(tmp_path / "out")])
    assert run.exit_code == 3
    assert (tmp_path / "out" / "CM99-0000001.yaml").exists()


def _annotations() -> dict[str, list[dict[str, object]]]:
    rows: dict[str, list[dict[str, object]]] = defaultdict(list)
    for line in (SHARED / "annotations" / "dev.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[str(row["source_ref"]).split()[-1]].append(row)
    return rows


@pytest.mark.skipif(not (SHARED / "letters" / "dev").is_dir(), reason="shared letters not present")
def test_every_shared_letter_extracts_with_the_annotated_decisions(tmp_path: Path) -> None:
    from imr_rules.cases.reader import read_case

    annotations = _annotations()
    letters = sorted((SHARED / "letters" / "dev").glob("*.txt")) + sorted((SHARED / "letters" / "seeds").glob("*.txt"))
    compared = agreed = cited = 0
    for letter in letters:
        result = extract_letter(letter)
        assert result.case is not None, [d.render() for d in result.problems]
        assert result.case.recorded is not None
        out = tmp_path / f"{letter.stem}.json"
        out.write_text(json.dumps(case_document(result.case)), encoding="utf-8")
        read_case(out)  # the full validation the CLI applies to case files
        expected = annotations.get(letter.stem, [])
        if letter.parent.name == "dev":
            assert len(result.case.recorded.items) == len(expected), letter.name
        for found, row in zip(result.case.recorded.items, expected, strict=False):
            compared += 1
            agreed += found.decision == row["decision"]
        historical = Path(__file__).resolve().parents[1] / "cases" / "historical" / f"{letter.stem}.yaml"
        if historical.exists():
            recorded = read_case(historical).recorded
            assert recorded is not None
            cited += sum(a.guideline == b.guideline for a, b in zip(result.case.recorded.items, recorded.items,
                                                                    strict=False))
    assert compared == 239
    assert agreed / compared >= 0.95, f"decision match {agreed}/{compared}"
    assert cited / compared >= 0.95, f"guideline match {cited}/{compared}"


def test_regress_reads_letters_and_takes_each_letter_once(tmp_path: Path) -> None:
    from imr_rules.regression.runner import case_files

    letter = _letter(tmp_path, "The worker is a 40 year old male. Evaluated on 12/20/2016.")
    (tmp_path / "letter.pdf").write_bytes(b"%PDF-1.4 stand-in: the text version beside it is taken")
    assert case_files([tmp_path]) == [letter]
    result = CliRunner().invoke(app, ["regress", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 recorded items in 1 cases" in result.stdout
    assert "1 letter(s) extracted on the fly" in result.stderr


def test_regress_reports_a_letter_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("A shopping list, not a determination letter.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["regress", str(bad)])
    assert result.exit_code == 3
    assert "notes.txt" in result.stderr and "not an IMR determination letter" in result.stderr


def test_diagnoses_from_treated_for_and_weeks_of_conservative_care(tmp_path: Path) -> None:
    data = _case(tmp_path, "He is being treated for lumbar strain. Treatment to date has included 4 sessions of "
                           "chiropractic care. Evaluated on 12/20/2016.")
    assert data["diagnoses"] == [{"description": "lumbar strain", "category": "sprain_strain",
                                  "body_region": "lumbar"}]
    assert data["clinical"]["conservative_care"] == {"weeks": 7}  # type: ignore[index]  # 11/01 to 12/20


def test_visits_certified_as_stated_when_review_modified_the_request(tmp_path: Path) -> None:
    issues = ISSUES.replace("Physical therapy 2 times a week for 3 weeks for the lumbar spine",
                            "Physical therapy 2 sessions for the lumbar spine")
    summary = "The request was modified by utilization review allowing 4 sessions of physical therapy."
    result = extract_letter(_letter(tmp_path, summary, issues))
    assert result.legacy is not None and result.legacy.clinical.prior_treatment is not None
    assert [(p.type, p.visits_authorized) for p in result.legacy.clinical.prior_treatment] == [("physical_therapy", 4)]


@pytest.mark.parametrize(("title", "expected"), [
    ("Eight physical therapy sessions", {"visits": 8}),
    ("Additional physical therapy two times four visits (8) for the knees", {"visits": 8}),
    ("Post-op physical therapy 12-18 sessions", {"visits": 18}),
    ("3 visits per week for 2 weeks", {"frequency_per_week": 3, "duration_weeks": 2}),
    ("two therapy sessions for the wrist and eight therapy sessions for the hand", {"visits": 10}),
])
def test_visit_counts_in_item_titles(title: str, expected: dict[str, int]) -> None:
    from imr_rules.intake.letters import parse_quantities

    assert parse_quantities(title) == expected


def test_count_of_completed_sessions_a_few_words_away(tmp_path: Path) -> None:
    clinical = _clinical(tmp_path, "She has completed twelve (12) physical therapy sessions. Chiropractic gave "
                                   "an improvement in pain.")
    treatments = {t["type"]: t for t in clinical["prior_treatment"]}
    assert treatments["physical_therapy"]["visits_completed"] == 12
    assert "functional_improvement" not in treatments["chiropractic"]  # pain relief is not function


@pytest.mark.skipif(not (SHARED / "letters" / "dev").is_dir(), reason="shared letters not present")
def test_pdf_letters_give_the_items_and_decisions_of_their_text() -> None:
    for pdf in sorted((SHARED / "letters" / "dev").glob("*.pdf"))[::25]:
        from_pdf, from_text = extract_letter(pdf), extract_letter(pdf.with_suffix(".txt"))
        assert from_pdf.case is not None and from_text.case is not None, pdf.name
        assert from_pdf.case.recorded == from_text.case.recorded, pdf.name
        assert [(i.service, i.body_region) for i in from_pdf.case.requested_items] == \
            [(i.service, i.body_region) for i in from_text.case.requested_items], pdf.name


@pytest.mark.parametrize(("summary", "expected"), [
    ("There is no documentation of functional improvement from physical therapy.",
     [{"type": "physical_therapy", "functional_improvement": "absent"}]),
    ("No physical therapy notes were provided.", None),
    ("She did not attend physical therapy.", []),
])
def test_negated_treatment_mentions(tmp_path: Path, summary: str, expected: list[dict[str, str]] | None) -> None:
    assert _clinical(tmp_path, summary).get("prior_treatment") == expected


def test_dates_out_of_order_give_warnings_and_still_a_case(tmp_path: Path) -> None:
    # The request for authorization is dated before the 11/01/2016 injury: the UR denial date is used.
    letter = _letter(tmp_path, "The worker is a 40 year old male. A request for authorization dated 10/03/2016 "
                               "asked for therapy.")
    result = extract_letter(letter)
    assert result.case is not None, [d.render() for d in result.problems]
    assert str(result.case.request_date) == "2017-01-02"
    warnings = [d.message for d in result.problems if d.severity == "warning"]
    assert any("2016-10-03 is before the injury date 2016-11-01" in w for w in warnings)
    assert any("2016-10-03 is before the injury date" in w for w in result.case.warnings)  # in the case file too
    run = CliRunner().invoke(app, ["extract", str(letter)])
    assert run.exit_code == 0
    assert "warnings:" in run.stdout and "before the injury date" in run.stderr


def test_extract_jsonl_is_read_by_evaluate_from_standard_input(tmp_path: Path) -> None:
    first = _letter(tmp_path, "The worker is a 40 year old male. Evaluated on 12/20/2016.", name="a.txt")
    second = _letter(tmp_path, "The worker is a 52 year old female. Evaluated on 12/21/2016.", name="b.txt")
    second.write_text(second.read_text(encoding="utf-8").replace("CM99-0000001", "CM99-0000002"), encoding="utf-8")
    runner = CliRunner()
    extracted = runner.invoke(app, ["extract", str(first), str(second), "-f", "jsonl"])
    assert extracted.exit_code == 0, extracted.output
    lines = extracted.stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["schema"] == 2 for line in lines)
    evaluated = runner.invoke(app, ["evaluate", "-"], input=extracted.stdout)
    assert evaluated.exit_code == 0, evaluated.output
    records = [json.loads(line) for line in evaluated.stdout.splitlines()]
    assert [r["result"]["case_id"] for r in records[:2]] == ["CM99-0000001", "CM99-0000002"]
    assert records[-1] == {"end_of_batch": True, "answered": 2, "ok": 2, "failed": 0}


@pytest.mark.skipif(not (SHARED / "letters" / "dev").is_dir(), reason="shared letters not present")
def test_every_shared_pdf_letter_yields_a_case() -> None:
    letters = sorted((SHARED / "letters").glob("*/*.pdf"))
    assert letters
    rejected = [letter.name for letter in letters if extract_letter(letter).case is None]
    assert rejected == []


@pytest.mark.parametrize(("summary", "expected"), [
    ("Physical exam noted a negative seated straight leg raise.", {"straight_leg_raise": "absent"}),
    ("Straight leg raise test on the left is positive.", {"straight_leg_raise": "present"}),
    ("Spurling test is questionable on the left.", {}),
    ("There was a negative Neer's test, Hawkins' test, and Speed's test.",
     {"neer_test": "absent", "hawkins_test": "absent", "speed_test": "absent"}),
    ("Sensation was intact in the lower extremities. Strength is normal.",
     {"sensory_loss": "absent", "motor_weakness": "absent"}),
    ("Reflexes were symmetric. She complains of numbness into the thumb.",
     {"reflex_change": "absent", "radiating_paresthesia": "present"}),
])
def test_test_results_and_normal_examination(tmp_path: Path, summary: str, expected: dict[str, str]) -> None:
    assert _statuses(tmp_path, summary) == expected


@pytest.mark.parametrize(("summary", "expected"), [
    ("On testing, strength of the left leg measured 4 out of 5.", ("motor_weakness", "present", "4/5")),
    ("Grip strength was decreased.", ("motor_weakness", "present", None)),
    ("The right ankle reflex was decreased.", ("reflex_change", "present", None)),
])
def test_abnormal_examination_written_around_the_concept(tmp_path: Path, summary: str,
                                                         expected: tuple[str, str, str | None]) -> None:
    found = [(f["concept"], f["status"], f.get("value")) for f in _findings(tmp_path, summary)]
    assert expected in found


def test_diagnoses_with_status_side_and_icd10(tmp_path: Path) -> None:
    result = extract_letter(_letter(tmp_path, "Diagnoses include possible left knee meniscal tear; rule out lumbar "
                                              "radiculopathy; cervicalgia M54.2; right wrist sprain Q99.99."))
    assert result.case is not None
    found = {d.description: (d.status, d.side, d.icd10) for d in result.case.diagnoses}
    assert found["possible left knee meniscal tear"] == ("suspected", "left", None)
    assert found["rule out lumbar radiculopathy"] == ("rule_out", None, None)
    assert found["cervicalgia M54.2"] == ("confirmed", None, "M54.2")
    assert found["right wrist sprain Q99.99"] == ("confirmed", "right", None)  # not an ICD-10-CM code: left out


@pytest.mark.parametrize(("title", "service", "expected"), [
    ("EMG/NCV of the bilateral upper extremities", "electrodiagnostic", {"side": "bilateral", "test_kind": "emg_ncs"}),
    ("MRI of the left shoulder", "imaging_mri", {"side": "left", "test_kind": "mri"}),
    ("Diclofenac ER 100mg #60", "nsaid", {"formulation": "oral_extended_release",
                                          "quantity": {"amount": 60, "unit": "tablets"}}),
    ("Lidocaine ointment 5% 106.32gm", "topical_analgesic", {"formulation": "topical",
                                                              "quantity": {"amount": 106.32, "unit": "g"}}),
    ("Retrospective Flurbiprofen compound cream #1 tube", "topical_analgesic",
     {"formulation": "compounded", "quantity": {"amount": 1, "unit": "tubes"}, "retrospective": True}),
])
def test_item_details_from_the_title(title: str, service: str, expected: dict[str, Any]) -> None:
    from imr_rules.intake.items import item_details

    assert item_details(title, service) == expected


def test_item_naming_several_regions_lists_them(tmp_path: Path) -> None:
    issues = ISSUES.replace("Physical therapy 2 times a week for 3 weeks for the lumbar spine",
                            "Physical therapy 2 times a week for 3 weeks for the neck and right hand")
    result = extract_letter(_letter(tmp_path, "A 40 year old male.", issues))
    assert result.case is not None
    assert result.case.requested_items[0].regions == ["cervical", "wrist_hand"]


@pytest.mark.parametrize(("summary", "complete", "modalities"), [
    ("She previously received the following treatments: 6 sessions of physical therapy for the right knee.", True,
     {("physical_therapy", "knee")}),
    ("Treatment to date has included physical therapy and acupuncture.", False,
     {("physical_therapy", None), ("acupuncture", None)}),
])
def test_history_complete_only_where_the_summary_says_so(tmp_path: Path, summary: str, complete: bool,
                                                         modalities: set[tuple[str, str | None]]) -> None:
    result = extract_letter(_letter(tmp_path, summary))
    assert result.case is not None and result.case.clinical.treatment is not None
    assert result.case.clinical.treatment.history_complete is complete
    assert {(c.modality, c.region) for c in result.case.clinical.treatment.courses} == modalities


def test_prior_treatment_not_noted_is_not_documented(tmp_path: Path) -> None:
    result = extract_letter(_letter(tmp_path, "Prior treatments were not noted."))
    assert result.case is not None and result.case.clinical.treatment is None


def test_treatment_that_did_not_help(tmp_path: Path) -> None:
    result = extract_letter(_letter(tmp_path, "He has had at least 5 sessions of physical therapy which did not "
                                              "help. Utilization review noted a lack of failed conservative care."))
    assert result.case is not None and result.case.clinical.treatment is not None
    course = result.case.clinical.treatment.courses[0]
    assert (course.modality, course.function_response) == ("physical_therapy", "absent")
    assert result.case.clinical.conservative_care.failed == "present"


def test_item_asking_for_at_least_some_visits(tmp_path: Path) -> None:
    issues = ISSUES.replace("Physical therapy 2 times a week for 3 weeks for the lumbar spine",
                            "At least six sessions of physical therapy for the lumbar spine")
    result = extract_letter(_letter(tmp_path, "A 40 year old male.", issues))
    assert result.case is not None
    item = result.case.requested_items[0]
    assert (item.visits, item.visits_at_least) == (6, True)


def test_fracture_on_imaging_and_fracture_boot(tmp_path: Path) -> None:
    assert _statuses(tmp_path, "An x-ray of the wrist revealed no fracture. She uses a fracture boot.") == {
        "imaging_fracture": "absent"}


@pytest.mark.parametrize(("summary", "expected"), [
    ("He is currently not working.", "not_working"),
    ("Current work status is return to work with restrictions.", "modified_duty"),
    ("He was placed on temporary total disability. Treatment has included therapy and work restrictions.",
     "temporarily_totally_disabled"),
])
def test_work_status_from_the_vocabulary(tmp_path: Path, summary: str, expected: str) -> None:
    assert _clinical(tmp_path, summary)["work_status"] == expected


def test_studies_named_in_a_list_with_their_regions(tmp_path: Path) -> None:
    result = extract_letter(_letter(tmp_path, "Diagnostic studies included an x-ray of the left ankle and right "
                                              "wrist on 10/25/2016, and EMG/NCS of the arms. An MRI of the knee "
                                              "was requested."))
    assert result.case is not None
    assert [(s.kind, s.region, s.date) for s in result.case.clinical.imaging or []] == [
        ("xray", "ankle_foot", "2016-10-25"), ("xray", "wrist_hand", "2016-10-25")]
    assert [(s.kind, s.region) for s in result.case.clinical.electrodiagnostics or []] == [
        ("emg_ncs", "upper_extremity")]


@pytest.mark.parametrize("summary", [
    "Utilization review partially approved the request for 10 visits of physical therapy as 4 visits.",
    "Four physical therapy sessions for the lumbar spine were authorized by the claims administrator.",
    "The request for physical therapy had been previously modified to 4 visits.",
])
def test_visits_certified_in_other_words(tmp_path: Path, summary: str) -> None:
    issues = ISSUES.replace("Physical therapy 2 times a week for 3 weeks for the lumbar spine",
                            "Physical therapy, 5 sessions, for the lumbar spine")
    result = extract_letter(_letter(tmp_path, summary, issues))
    assert result.case is not None and result.case.clinical.treatment is not None
    assert [(c.modality, c.visits_authorized) for c in result.case.clinical.treatment.courses
            if c.visits_authorized is not None] == [("physical_therapy", 4)]


def test_an_item_title_naming_a_purchase_or_a_rental_sets_the_acquisition() -> None:
    from imr_rules.intake.items import item_details

    assert item_details("TENS unit purchase", "tens")["acquisition"] == "purchase"
    assert item_details("Cold therapy unit, 7-day rental", "dme")["acquisition"] == "rental"
    assert "acquisition" not in item_details("Cold therapy unit", "dme")
    assert "acquisition" not in item_details("Commode purchase (1-month rental authorized)", "dme")  # both named
