"""Guideline indications read from region-scoped findings (issue 12 item 4).

Each new indication has an Overturned example beside its rule (``rules/**/<topic>.examples/``); these tests
take such an example and change one thing: the deciding findings moved to another body region, the test
kind, the certified part of the request. A finding of another region must never satisfy an indication of
the requested region, and an indication belongs to the test it was written for.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from imr_rules.cases.reader import parse_case
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.engine.results import ItemResult

from .conftest import RULES, load

EXAMPLES = {
    "knee_mri": RULES / "diagnostics" / "knee_mri_acoem_2004.examples",
    "shoulder_mri": RULES / "diagnostics" / "shoulder_mri_acoem_2004.examples",
    "neck_mri": RULES / "imaging" / "cervical_mri_acoem_2004.examples",
    "lumbar_mri": RULES / "diagnostics" / "lumbar_mri_acoem_2004.examples",
    "wrist_imaging": RULES / "diagnostics" / "wrist_hand_imaging_acoem_2004.examples",
    "ankle_imaging": RULES / "diagnostics" / "ankle_foot_imaging_acoem_2004.examples",
    "lumbar_edx": RULES / "diagnostics" / "edx_lumbar_acoem_2004.examples",
    "neck_edx": RULES / "diagnostics" / "edx_cervical_acoem_2004.examples",
    "elbow_edx": RULES / "diagnostics" / "edx_elbow_acoem_2007.examples",
    "hand_edx": RULES / "diagnostics" / "edx_wrist_hand_acoem_2004.examples",
    "edx_2016": RULES / "diagnostics" / "edx_cpmtg_2016.examples",
    "esi_2009": RULES / "procedures" / "esi_2009.examples",
    "benzo_2016": RULES / "medications" / "benzodiazepine_2016.examples",
    "topical_nsaid_2016": RULES / "medications" / "topical_nsaid_2016.examples",
    "preop": RULES / "diagnostics" / "preop_testing_odg.examples",
    "pm_2016": RULES / "physical_medicine" / "chronic_pm_2016.examples",
    "shoulder_surgery": RULES / "procedures" / "shoulder_surgery_acoem_2004.examples",
    "knee_surgery": RULES / "procedures" / "knee_surgery_acoem_2004.examples",
}


def _example(folder: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(load(EXAMPLES[folder] / f"{name}.yaml"))


def _decide(data: dict[str, Any], item: str = "1") -> ItemResult:
    data.pop("expect", None)
    result = evaluator(RULES).evaluate(parse_case(data))
    return next(i for i in result.items if i.item_id == item)


def _findings(data: dict[str, Any]) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = data["clinical"].setdefault("findings", [])
    return findings


def _move(data: dict[str, Any], concepts: dict[str, str], region: str, side: str | None = None,
          roots: dict[str, str] | None = None) -> dict[str, Any]:
    """The case with each finding of ``concepts`` replaced by ``concepts[old]`` at ``region``."""
    for finding in _findings(data):
        if finding["concept"] in concepts:
            finding["concept"] = concepts[finding["concept"]]
            finding["region"] = region
            if side is not None:
                finding["side"] = side
            if roots and finding.get("root") in roots:
                finding["root"] = roots[finding["root"]]
    return data


def _case(*items: dict[str, Any], findings: list[dict[str, Any]], **clinical: Any) -> dict[str, Any]:
    return {"schema": 2, "case_id": "INDICATION", "claim": {"injury_date": "2016-06-01"},
            "patient": {"age": 48, "sex": "female"}, "request_date": "2016-11-01",
            "requested_items": list(items), "clinical": {"findings": findings, **clinical}}


# ---- every new Overturned example comes out Overturned from its findings ---------------------------------

OVERTURNED_EXAMPLES = [
    ("knee_mri", "overturned_meniscal_signs"), ("knee_mri", "overturned_acute_trauma"),
    ("knee_mri", "overturned_failed_to_progress"), ("shoulder_mri", "overturned_cuff_weakness"),
    ("shoulder_mri", "overturned_instability"), ("shoulder_mri", "overturned_acute_trauma_over_40"),
    ("shoulder_mri", "overturned_failed_to_progress"), ("neck_mri", "overturned_radiculopathy_exam"),
    ("neck_mri", "overturned_failed_to_progress"), ("wrist_imaging", "overturned_failed_to_progress"),
    ("ankle_imaging", "overturned_failed_to_progress"), ("lumbar_edx", "overturned_emg_ncs_entrapment"),
    ("neck_edx", "overturned_ncs_entrapment"), ("elbow_edx", "overturned_entrapment_signs"),
    ("hand_edx", "overturned_entrapment_signs"), ("edx_2016", "overturned_entrapment_signs"),
    ("esi_2009", "overturned_coded_corroboration"), ("benzo_2016", "overturned_anxiety"),
    ("topical_nsaid_2016", "overturned_tendinitis"), ("preop", "overturned_ekg_cardiac_risk"),
    ("preop", "overturned_bmp_renal"), ("shoulder_surgery", "overturned_labral_lesion"),
    ("knee_surgery", "overturned_coded_meniscal_tear"),
]


@pytest.mark.parametrize(("folder", "name"), OVERTURNED_EXAMPLES, ids=lambda v: str(v))
def test_each_new_indication_has_an_overturned_example_built_from_findings(folder: str, name: str) -> None:
    data = _example(folder, name)
    assert data["schema"] == 2
    assert _findings(data), "the indication is read from coded findings"
    assert _decide(data).decision == "Overturned"


# ---- a finding of another region never satisfies an indication -------------------------------------------

def test_knee_derangement_signs_at_the_ankle_do_not_indicate_a_knee_mri() -> None:
    data = _example("knee_mri", "overturned_meniscal_signs")
    data["clinical"]["findings"] = [
        {"concept": "locking", "status": "present", "region": "ankle_foot", "side": "left"},
        {"concept": "joint_effusion", "status": "present", "region": "ankle_foot", "side": "left"},
        {"concept": "anterior_drawer_test", "status": "present", "region": "ankle_foot", "side": "left"},
    ]
    item = _decide(data)
    assert item.decision == "Upheld"
    assert item.rule == "DX-ACOEM04-KNEE-MRI"


def test_a_shoulder_trauma_with_an_effusion_does_not_indicate_a_knee_mri() -> None:
    data = _example("knee_mri", "overturned_acute_trauma")
    data["clinical"]["findings"] = [
        {"concept": "significant_trauma", "status": "present", "region": "shoulder", "side": "right"},
        {"concept": "joint_effusion", "status": "present", "region": "shoulder", "side": "right"},
        {"concept": "apprehension_test", "status": "present", "region": "shoulder", "side": "right"},
    ]
    assert _decide(data).decision == "Upheld"


def test_instability_of_the_knee_does_not_indicate_a_shoulder_mri() -> None:
    data = _example("shoulder_mri", "overturned_instability")
    data["clinical"]["findings"] = [
        {"concept": "joint_instability", "status": "present", "region": "knee", "side": "left"},
        {"concept": "lachman_test", "status": "present", "region": "knee", "side": "left"},
        {"concept": "red_flag", "status": "absent", "region": "shoulder"},
    ]
    assert _decide(data).decision == "Upheld"


def test_a_knee_trauma_does_not_count_for_the_shoulder_trauma_path() -> None:
    data = _example("shoulder_mri", "overturned_acute_trauma_over_40")
    for finding in _findings(data):
        if finding["concept"] == "significant_trauma":
            finding["region"] = "knee"
    assert _decide(data).decision == "Upheld"


def test_failed_therapy_of_another_region_is_no_failure_to_progress() -> None:
    data = _example("knee_mri", "overturned_failed_to_progress")
    data["clinical"]["treatment"]["courses"][0]["region"] = "shoulder"
    item = _decide(data)
    assert item.decision == "Upheld"
    assert item.basis == "not_documented"


@pytest.mark.parametrize("folder", ["neck_mri", "wrist_imaging", "ankle_imaging", "shoulder_mri"])
def test_failure_to_progress_needs_a_suspected_lesion_of_the_region(folder: str) -> None:
    """A strengthening program is one 'meant to avoid surgery' only when a surgical lesion is suspected."""
    data = _example(folder, "overturned_failed_to_progress")
    lesion = {"neck_mri": "radicular_pain", "wrist_imaging": "ligament_stress_test",
              "ankle_imaging": "anterior_drawer_test", "shoulder_mri": "neer_test"}[folder]
    data["clinical"]["findings"] = [f for f in _findings(data) if f["concept"] != lesion]
    assert _decide(data).decision == "Upheld"


def test_leg_findings_do_not_indicate_a_neck_mri_and_arm_findings_do_not_indicate_a_lumbar_mri() -> None:
    neck = _move(_example("neck_mri", "overturned_radiculopathy_exam"),
                 {"radicular_pain": "radicular_pain", "sensory_loss": "sensory_loss", "reflex_change": "reflex_change"},
                 "lower_extremity", roots={"C6": "L5"})
    assert _decide(neck).decision == "Upheld"
    lumbar = _move(_example("lumbar_mri", "overturned"),
                   {"radicular_pain": "radicular_pain", "dermatomal_sensory_loss": "dermatomal_sensory_loss",
                    "myotomal_weakness": "myotomal_weakness"}, "upper_extremity", roots={"L5": "C6"})
    assert _decide(lumbar).decision == "Upheld"


def test_lumbar_mri_needs_the_sensory_and_motor_findings_at_one_root() -> None:
    data = _example("lumbar_mri", "overturned")
    assert _decide(copy.deepcopy(data)).decision == "Overturned"
    for finding in _findings(data):
        if finding["concept"] == "myotomal_weakness":
            finding["root"] = "S1"
    item = _decide(data)
    assert item.decision == "Upheld"
    states = {c.key.rsplit("/", 1)[-1]: c.state for c in item.criteria}
    assert states["radiculopathy_exam"] == "not_met"       # findings at two roots are no radiculopathy
    assert states["edx_abnormal"] == "not_documented"      # an EMG could still show the compromise


def test_an_entrapment_sign_at_the_wrist_does_not_indicate_nerve_studies_across_the_elbow() -> None:
    data = _move(_example("elbow_edx", "overturned_entrapment_signs"),
                 {"elbow_flexion_test": "tinel_sign", "nerve_distribution_paresthesia": "phalen_test"},
                 "wrist_hand", side="right")
    assert _decide(data).decision == "Upheld"


def test_a_wrist_tinel_sign_does_not_justify_leg_conduction_studies() -> None:
    data = _move(_example("lumbar_edx", "overturned_emg_ncs_entrapment"), {"tinel_sign": "tinel_sign"},
                 "wrist_hand", side="right")
    for finding in _findings(data):
        if finding["concept"] == "tinel_sign":
            del finding["nerve"]           # the peroneal nerve belongs to the leg
    item = _decide(data)
    assert item.decision == "Upheld"
    assert item.rule == "DX-ACOEM04-LB-EDX"


def test_electrodiagnostic_indication_belongs_to_the_test_requested() -> None:
    """The same equivocal leg findings: EMG is indicated, leg NCS for a presumed radiculopathy is not."""
    data = _example("lumbar_edx", "overturned_emg_ncs_entrapment")
    data["clinical"]["findings"] = [f for f in _findings(data) if f["concept"] != "tinel_sign"]
    emg = copy.deepcopy(data)
    emg["requested_items"][0]["test_kind"] = "emg"
    assert _decide(emg).decision == "Overturned"
    ncs = copy.deepcopy(data)
    ncs["requested_items"][0]["test_kind"] = "ncs"
    assert _decide(ncs).decision == "Upheld"


def test_emg_is_not_needed_once_the_radiculopathy_is_obvious_unless_an_entrapment_is_suspected() -> None:
    obvious = _example("neck_edx", "overturned_ncs_entrapment")
    obvious["clinical"]["findings"] = [f for f in _findings(obvious)
                                       if f["concept"] not in ("phalen_test", "nerve_distribution_paresthesia")]
    assert _decide(obvious).decision == "Upheld"
    assert _decide(_example("neck_edx", "overturned_ncs_entrapment")).decision == "Overturned"


def test_a_knee_tendinitis_does_not_indicate_a_topical_nsaid_for_the_elbow() -> None:
    data = _move(_example("topical_nsaid_2016", "overturned_tendinitis"),
                 {"tendinitis": "tendinitis", "tendon_tenderness": "tendon_tenderness"}, "knee")
    assert _decide(data).decision == "Upheld"


def test_depression_is_not_an_indication_for_a_benzodiazepine() -> None:
    data = _example("benzo_2016", "overturned_anxiety")
    data["clinical"]["findings"] = [{"concept": "depression_or_anxiety", "status": "present"}]
    item = _decide(data)
    assert item.decision == "Upheld"
    assert item.basis == "not_documented"


def test_a_cardiac_risk_factor_justifies_an_ekg_not_a_blood_count() -> None:
    data = _example("preop", "overturned_ekg_cardiac_risk")
    data["requested_items"][0]["test_kind"] = "blood_count"
    data["requested_items"][0]["description"] = "Pre-operative CBC"
    assert _decide(data).decision == "Upheld"


def test_age_alone_justifies_no_pre_operative_test() -> None:
    data = _example("preop", "upheld_cbc_age_only")
    for age in (66, 80):
        data["patient"]["age"] = age
        assert _decide(copy.deepcopy(data)).decision == "Upheld"


def test_the_certified_part_of_a_request_counts_against_the_allowance() -> None:
    data = _example("pm_2016", "upheld_certified_part_counts")
    item = _decide(copy.deepcopy(data))
    assert item.decision == "Upheld"
    assert "bring the course to 12 visits" in item.rationale
    del data["requested_items"][0]["certified"]
    assert _decide(data).decision == "Overturned"


def test_a_lesion_coded_at_the_knee_is_no_shoulder_lesion() -> None:
    data = _example("shoulder_surgery", "overturned_labral_lesion")
    data["clinical"]["findings"] = [
        {"concept": "apprehension_test", "status": "present", "region": "shoulder", "side": "left"},
        {"concept": "imaging_meniscal_tear", "status": "present", "region": "knee", "side": "left"},
    ]
    item = _decide(data)
    assert item.decision == "Upheld"
    assert item.basis == "not_documented"


# ---- red flags belong to the region of the request -----------------------------------------------------

def _lumbar_mri(*findings: dict[str, Any]) -> dict[str, Any]:
    item = {"id": "1", "description": "MRI lumbar spine", "service": "imaging_mri", "regions": ["lumbar"]}
    return _case(item, findings=list(findings))


def test_a_suspected_fracture_counts_only_for_its_own_region() -> None:
    at_wrist = {"concept": "suspected_fracture_or_dislocation", "status": "present", "region": "wrist_hand"}
    assert _decide(_lumbar_mri(at_wrist)).decision == "Upheld"
    at_spine = {**at_wrist, "region": "lumbar"}
    assert _decide(_lumbar_mri(at_spine)).decision == "Overturned"


def test_a_fracture_excluded_by_imaging_of_the_region_is_no_red_flag() -> None:
    suspected = {"concept": "suspected_fracture_or_dislocation", "status": "present", "region": "lumbar"}
    excluded_here = {"concept": "imaging_fracture", "status": "absent", "region": "lumbar", "source": "imaging"}
    assert _decide(_lumbar_mri(suspected, excluded_here)).decision == "Upheld"
    excluded_elsewhere = {**excluded_here, "region": "wrist_hand"}
    assert _decide(_lumbar_mri(suspected, excluded_elsewhere)).decision == "Overturned"


def test_a_fracture_shown_on_imaging_of_the_region_is_a_red_flag() -> None:
    shown = {"concept": "imaging_fracture", "status": "present", "region": "lumbar", "source": "imaging"}
    assert _decide(_lumbar_mri(shown)).decision == "Overturned"


def test_every_example_folder_named_here_exists() -> None:
    assert all(Path(folder).is_dir() for folder in EXAMPLES.values())
