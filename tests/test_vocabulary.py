"""The vocabulary is data: read from rules/vocabulary/, validated with located errors, listed and searched."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from imr_rules.cases.vocabulary import load_vocabulary, vocabulary_of
from imr_rules.intake import terms as intake_terms

from .conftest import RULES, SEEDS, run_cli

SEED = SEEDS / "seed-001-lumbar-pt.yaml"


def _add_term(rules: Path, file: str, line: str) -> None:
    path = rules / "vocabulary" / file
    path.write_text(path.read_text() + line + "\n")


def test_shipped_vocabulary_loads_with_hierarchies() -> None:
    vocabulary, problems = load_vocabulary(RULES / "vocabulary")
    assert vocabulary is not None, problems
    assert vocabulary.regions_up("knee") == {"knee", "lower_extremity"}
    assert vocabulary.regions_up("lumbar") == {"lumbar", "spine"}
    assert vocabulary.territory_of("lumbar") == "lower_extremity"
    assert vocabulary.territory_of("cervical") == "upper_extremity"
    assert vocabulary.region_of_root("S1") == "lumbar"
    assert vocabulary.region_of_root("C6") == "cervical"
    assert vocabulary.has("services", "physical_therapy")


def test_every_term_intake_names_is_in_the_vocabulary() -> None:
    vocabulary = vocabulary_of(RULES)
    for enum, kind in ((intake_terms.Service, "services"), (intake_terms.BodyRegion, "body_regions"),
                       (intake_terms.Procedure, "procedures"),
                       (intake_terms.DiagnosisCategory, "diagnosis_categories")):
        missing = [member.value for member in enum if not vocabulary.has(kind, member.value)]
        assert not missing, (kind, missing)


def test_service_added_in_yaml_only_validates_and_evaluates(rules_copy: Path, tmp_path: Path) -> None:
    _add_term(rules_copy, "services.yaml", "  - {id: hippotherapy, label: therapy on horseback, group: active_therapy}")
    case = yaml.safe_load(SEED.read_text())
    case["requested_items"][0]["service"] = "hippotherapy"
    case.pop("expect", None)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False))
    shipped = run_cli("evaluate", path)
    assert shipped.returncode == 3
    assert "unknown service 'hippotherapy'" in shipped.stderr
    result = run_cli("evaluate", path, "--rules", rules_copy, "--format", "json")
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)["items"][0]
    assert item["decision"] == "Not addressed"
    topic = rules_copy / "physical_medicine" / "hippotherapy.yaml"
    topic.write_text((RULES / "physical_medicine" / "chronic_pm_2009.yaml").read_text()
                     .replace("id: CPMTG09-PM\n", "id: HIPPO-PM\n")
                     .replace("services: [physical_therapy, occupational_therapy]", "services: [hippotherapy]"))
    decided = run_cli("evaluate", path, "--rules", rules_copy, "--format", "json")
    assert decided.returncode == 0, decided.stderr
    item = json.loads(decided.stdout)["items"][0]
    assert item["rule"] == "HIPPO-PM"
    assert item["decision"] in ("Upheld", "Overturned")


def test_bad_vocabulary_is_refused_with_located_errors(rules_copy: Path) -> None:
    _add_term(rules_copy, "body_regions.yaml", "  - {id: big_toe, label: big toe, parents: [ankle_fot]}")
    _add_term(rules_copy, "services.yaml", "  - {id: massage, label: massage again}")
    lines = (rules_copy / "vocabulary" / "body_regions.yaml").read_text().splitlines()
    result = run_cli("validate", rules_copy, "--no-examples")
    assert result.returncode == 4
    index = sum(1 for line in lines if line.startswith("  - {id:")) - 1
    assert (f"body_regions.yaml:{len(lines)}: error: terms[{index}].parents: 'ankle_fot' is not in the "
            "body_regions vocabulary") in result.stderr
    assert "did you mean 'ankle_foot'?" in result.stderr
    assert "services term 'massage' is defined twice" in result.stderr


def test_topic_naming_an_unknown_service_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "physical_medicine" / "chronic_pm_2009.yaml"
    path.write_text(path.read_text().replace("services: [physical_therapy, occupational_therapy]",
                                             "services: [physical_therapy, ocupational_therapy]"))
    result = run_cli("validate", rules_copy, "--no-examples")
    assert result.returncode == 4
    assert "applies_to.services[1]: unknown service 'ocupational_therapy'" in result.stderr
    assert "did you mean 'occupational_therapy'?" in result.stderr


def test_vocab_command_lists_and_searches() -> None:
    listing = run_cli("vocab")
    assert listing.returncode == 0
    assert "services" in listing.stdout and "concepts" in listing.stdout
    regions = run_cli("vocab", "body_regions")
    assert "knee" in regions.stdout and "within: lower_extremity" in regions.stdout
    found = run_cli("vocab", "--search", "nerve conduction")
    assert "emg_ncs" in found.stdout or "ncs" in found.stdout
    bad = run_cli("vocab", "servics")
    assert bad.returncode == 2


def test_concepts_close_over_is_a() -> None:
    vocabulary = vocabulary_of(RULES)
    assert {"meniscal_provocative_test", "internal_derangement_sign"} <= vocabulary.concepts_up("mcmurray_test")
    assert "mcmurray_test" in vocabulary.concepts_down("internal_derangement_sign")
    assert "red_flag" in vocabulary.concepts_up("upper_motor_neuron_sign")
    assert vocabulary.term("concepts", "dermatomal_sensory_loss").territorial
    assert not vocabulary.term("concepts", "suspected_fracture_or_dislocation").territorial


def test_concepts_cover_the_findings_the_rules_read() -> None:
    vocabulary = vocabulary_of(RULES)
    wanted = ["focal_neurologic_deficit", "sensory_loss", "motor_weakness", "reflex_change", "radicular_symptoms",
              "nerve_tension_sign", "straight_leg_raise", "spurling_test", "muscle_spasm", "neuropathic_pain",
              "dyspepsia", "gi_risk_factor", "homebound", "functional_deficit", "locking", "catching", "giving_way",
              "joint_line_tenderness", "joint_effusion", "mcmurray_test", "lachman_test", "anterior_drawer_test",
              "pivot_shift_test", "speed_test", "yergason_test", "obrien_test", "hawkins_test", "neer_test",
              "drop_arm_test", "empty_can_test", "phalen_test", "tinel_sign", "finkelstein_test",
              "range_of_motion_loss", "gait_abnormality", "joint_instability", "significant_trauma",
              "suspected_fracture_or_dislocation", "suspected_tumor", "suspected_infection",
              "progressive_neurologic_deficit", "myelopathy", "bowel_bladder_dysfunction",
              "cardiovascular_or_visceral_cause"]
    assert [c for c in wanted if not vocabulary.has("concepts", c)] == []


def test_every_concept_feeds_a_section_of_the_guideline_reference() -> None:
    import re

    import pytest

    from .conftest import SHARED

    reference = SHARED / "guidelines" / "mtus-reference.md"
    if not reference.exists():
        pytest.skip("../shared/guidelines/mtus-reference.md is not beside this checkout")
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)*)[.\s]", reference.read_text(), flags=re.M))
    vocabulary = vocabulary_of(RULES)
    missing = [(t.id, s) for t in vocabulary.terms["concepts"].values() for _, s in t.feeds if s not in sections]
    assert missing == []
    assert all(t.feeds for t in vocabulary.terms["concepts"].values())


def test_is_a_cycle_is_refused(rules_copy: Path) -> None:
    _add_term(rules_copy, "concepts/joints.yaml", "  - {id: loop_a, label: a, is_a: [loop_b]}\n"
                                                  "  - {id: loop_b, label: b, is_a: [loop_a]}")
    result = run_cli("vocab", "--rules", rules_copy)
    assert result.returncode == 4
    assert "'loop_a' is its own ancestor" in result.stderr


def test_shared_concept_derivations_cite_sections_of_the_reference() -> None:
    import re

    import pytest

    from .conftest import SHARED

    reference = SHARED / "guidelines" / "mtus-reference.md"
    if not reference.exists():
        pytest.skip("../shared/guidelines/mtus-reference.md is not beside this checkout")
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)*)[.\s]", reference.read_text(), flags=re.M))
    for name in ("internal_derangement", "radiculopathy", "failure_to_progress"):
        sources = yaml.safe_load((RULES / "shared" / f"{name}.yaml").read_text())["sources"]
        cited = re.findall(r"§(\d+(?:\.\d+)*)", sources)
        assert cited and set(cited) <= sections, (name, cited)
