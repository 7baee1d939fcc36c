"""Findings intake reads from a summary's sentences: measured and free-worded findings, with negation and
other speakers. Every sentence here is written for the test (none comes from a letter)."""

from __future__ import annotations

from typing import Any

import pytest

from imr_rules.intake.exam_patterns import ABNORMAL_EXAM, NORMAL_EXAM, PATTERN_SOURCE
from imr_rules.intake.findings import code_findings, intake_vocabulary, region_mentions


def _findings(summary: str) -> list[dict[str, Any]]:
    return [data for data, _, _ in code_findings(summary, region_mentions, [], lambda first, last: None)]


def _facts(summary: str) -> set[tuple[str, str]]:
    return {(f["concept"], f["status"]) for f in _findings(summary)}


def test_every_concept_the_patterns_name_is_in_the_vocabulary() -> None:
    vocabulary = intake_vocabulary()
    named = {concept for _, concept in [*NORMAL_EXAM, *ABNORMAL_EXAM]} | set(PATTERN_SOURCE)
    named |= {"motor_weakness", "rotator_cuff_test", "reflex_change", "dermatomal_sensory_loss",
              "radiating_paresthesia", "sensory_loss"}
    assert {concept for concept in named if not vocabulary.has("concepts", concept)} == set()


@pytest.mark.parametrize(("summary", "must", "must_not"), [
    # strength on the 0-5 scale, with the muscle or movement named between or before
    ("On examination she had 5/5 EHL strength on both sides.", {("motor_weakness", "absent")}, set()),
    ("Resisted elbow flexion measured 4+ out of 5 on examination.", {("motor_weakness", "present")}, set()),
    ("Motor power in the deltoid was 4 over 5.", {("motor_weakness", "present")}, set()),
    ("Flexion of the knee was limited to 100 degrees.", set(), {("motor_weakness", "present")}),
    ("A prior reviewer noted ankle dorsiflexion strength of 4/5.", set(), {("motor_weakness", "present")}),
    # the rotator cuff's strength is a test of the tendon, not a nerve
    ("Rotator cuff strength was 4/5 on the right.", {("rotator_cuff_test", "present")},
     {("motor_weakness", "present")}),
    ("Her rotator cuff strength was satisfactory.", {("rotator_cuff_test", "absent")}, set()),
])
def test_strength_grades(summary: str, must: set[tuple[str, str]], must_not: set[tuple[str, str]]) -> None:
    facts = _facts(summary)
    assert must <= facts and not must_not & facts


def test_strength_grade_keeps_its_value() -> None:
    found = [f for f in _findings("Resisted wrist extension measured 4- out of 5 on the left.")
             if f["concept"] == "motor_weakness"]
    assert found and found[0]["value"] == "4-/5" and found[0]["side"] == "left"


@pytest.mark.parametrize(("summary", "expected"), [
    ("Patellar deep tendon reflexes were graded 2 of 4 on both sides.", {("reflex_change", "absent")}),
    ("On exam the left Achilles reflex was 1+.", {("reflex_change", "present")}),
    ("The ankle jerk reflexes were 0/4 on the right.", {("reflex_change", "present")}),
    ("Knee reflexes were 1+ and equal on both sides.", set()),  # a symmetric low grade is a grade only
    ("Utilization review quoted an ankle reflex of 1+.", set()),
    ("Reflexes were 3+ at the knees.", set()),  # brisk reflexes are not read from a grade alone
])
def test_reflex_grades(summary: str, expected: set[tuple[str, str]]) -> None:
    assert {fact for fact in _facts(summary) if fact[0] == "reflex_change"} == expected


@pytest.mark.parametrize(("summary", "expected"), [
    ("Distal pulses were palpable in the right foot.", ("neurovascular_compromise", "absent")),
    ("The hand was neurovascularly intact.", ("neurovascular_compromise", "absent")),
    ("An EMG of both legs last month was normal.", ("electrodiagnostic_radiculopathy", "absent")),
    ("There was no sensory, motor or reflex change in the legs.", ("sensory_loss", "absent")),
    ("Testing showed abnormalities in sensory and reflex testing of the leg.", ("sensory_loss", "present")),
    ("Testing showed abnormalities in sensory and reflex testing of the leg.", ("reflex_change", "present")),
    ("She had decreased light touch sensation over the right index finger.", ("sensory_loss", "present")),
    ("The examiner could not find any decreased sensation in the arm.", ("sensory_loss", "absent")),
    ("There was tenderness over the medial joint line of the left knee.", ("joint_line_tenderness", "present")),
    ("There was no tenderness along the joint line.", ("joint_line_tenderness", "absent")),
    ("The MRI showed a disc extrusion causing mass effect on the left S1 nerve root.",
     ("imaging_nerve_root_compression", "present")),
    ("No nerve root compression was seen on the MRI.", ("imaging_nerve_root_compression", "absent")),
    ("The neck pain shoots down his left arm.", ("radicular_symptoms", "present")),
    ("Her back pain does not travel down the leg.", ("radicular_symptoms", "absent")),
    ("He has difficulty putting on shirts because of the shoulder.", ("adl_limitation", "present")),
    ("She has trouble with bathing since the injury.", ("adl_limitation", "present")),
    ("She denies difficulty dressing.", ("adl_limitation", "absent")),
])
def test_results_written_around_the_concept(summary: str, expected: tuple[str, str]) -> None:
    assert expected in _facts(summary)


@pytest.mark.parametrize("summary", [
    "Utilization review noted that distal pulses were palpable.",
    "The prior reviewer wrote that the EMG was normal.",
    "An EMG of both legs was requested.",
    "The claims administrator stated she has trouble with bathing.",
])
def test_results_not_read_from_other_speakers_or_requests(summary: str) -> None:
    assert {c for c, _ in _facts(summary)} & {"neurovascular_compromise", "electrodiagnostic_radiculopathy",
                                              "adl_limitation"} == set()


def test_sensory_loss_in_a_dermatome_names_its_root() -> None:
    found = [f for f in _findings("Sensation was decreased in the left L5 dermatome.") if f["status"] == "present"]
    assert [(f["concept"], f.get("root")) for f in found] == [("dermatomal_sensory_loss", "L5")]


@pytest.mark.parametrize(("summary", "expected"), [
    ("She reports numbness in the right hand.", ("radiating_paresthesia", "present", "wrist_hand")),
    ("He complains of constant numbness at the back of the left arm.",
     ("radiating_paresthesia", "present", "upper_extremity")),
    ("He reports elbow pain with no tingling in the right fingers.", ("radiating_paresthesia", "absent", "wrist_hand")),
    ("She reports numbness around the knee scar.", ("paresthesia", "present", "knee")),  # not in the limb's distal part
    ("No numbness was appreciated about the left forearm on examination.", ("sensory_loss", "absent", "elbow")),
])
def test_numbness_in_a_limb_is_the_radiating_kind(summary: str, expected: tuple[str, str, str]) -> None:
    assert expected in {(f["concept"], f["status"], f.get("region")) for f in _findings(summary)}


def test_numbness_reported_by_utilization_review_is_not_a_finding() -> None:
    assert _findings("Utilization review noted numbness of the right hand.") == []


def test_a_test_positive_on_one_side_and_negative_on_the_other() -> None:
    found = {(f["concept"], f["status"], f.get("side")) for f in
             _findings("The straight leg raise was positive on the left and negative on the right.")}
    assert found == {("straight_leg_raise", "present", "left"), ("straight_leg_raise", "absent", "right")}


def test_a_list_of_tests_with_its_result_written_last() -> None:
    assert _facts("Tinel's sign at the wrist and Phalen's test were negative.") == {
        ("tinel_sign", "absent"), ("phalen_test", "absent")}


def test_a_negation_does_not_reach_far_along_a_list_of_findings() -> None:
    facts = _facts("Exam: the examiner could not elicit tenderness of the shoulder, flexion was 170 degrees, "
                   "abduction was 160 degrees, internal rotation was 85 degrees, and there was generalized "
                   "weakness of the right arm.")
    assert ("motor_weakness", "present") in facts


def test_a_negation_stops_at_with() -> None:
    assert ("muscle_spasm", "present") in _facts("There were no motion restrictions with guarding noted at end range.")
    assert ("muscle_spasm", "absent") in _facts("There was no guarding.")


@pytest.mark.parametrize(("summary", "expected"), [
    ("Paraspinal muscle hypertonicity was palpated at L4-5.", ("muscle_spasm", "present")),
    ("There was no hypertonicity of the trapezius.", ("muscle_spasm", "absent")),
    ("Cozen's test was positive at the right elbow.", ("epicondylitis_provocative_test", "present")),
    ("The median nerve compression test was positive at the wrist.", ("carpal_compression_test", "present")),
    ("There were no lateralizing signs on the neurologic examination.", ("focal_neurologic_deficit", "absent")),
])
def test_vocabulary_synonyms(summary: str, expected: tuple[str, str]) -> None:
    assert expected in _facts(summary)


def test_tune_finding_differences_never_list_check_letters() -> None:
    from pathlib import Path

    from imr_rules.regression.split import split_of
    from tools.extraction_vs_cases import HAND_MADE, LETTERS, tune_finding_differences

    letters = sorted(LETTERS.glob("*.txt")) if LETTERS.is_dir() else []
    tune = [p for p in letters if split_of(p.stem) == "tune" and (HAND_MADE / f"{p.stem}.yaml").is_file()][:3]
    check = [p for p in letters if split_of(p.stem) == "check" and (HAND_MADE / f"{p.stem}.yaml").is_file()][:3]
    if not tune or not check:
        pytest.skip("the shared dev letters are not beside the project")
    listing = tune_finding_differences([*tune, *check], HAND_MADE)
    assert not any(p.stem in listing for p in check)
    lines = [line for line in listing.splitlines() if line.strip()]
    assert all(line.startswith(("== ", "  MISSED ", "  EXTRA ")) for line in lines) or listing == "none"
    assert all(Path(f"{line[3:]}.txt").name in {p.name for p in tune} for line in lines if line.startswith("== "))


def test_a_work_status_is_not_a_functional_deficit() -> None:
    assert _facts('The work status was given as "unable to work" on the last visit.') == set()
    assert ("functional_deficit", "present") in _facts("Since the fall she has been unable to work at all.")
