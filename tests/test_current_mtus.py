"""Requests dated today (the ACOEM-based MTUS, 12/1/2017 on): every common request type gets a decision or the
named "Needs licensed guideline" outcome citing the edition in force, never "Not addressed"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imr_rules.cases.model import Case
from imr_rules.engine.knowledge_base import evaluator, load_rule_base
from imr_rules.regression.runner import ItemOutcome, compute_metrics

from .conftest import RULES, run_cli

# The 20 most common request types of issue 13 (MRI counted once per region), as service and region.
COMMON_TYPES = [
    ("physical_therapy", "lumbar"), ("chiropractic", "lumbar"), ("acupuncture", "lumbar"),
    ("imaging_mri", "lumbar"), ("imaging_mri", "cervical"), ("imaging_mri", "knee"), ("imaging_mri", "shoulder"),
    ("electrodiagnostic", "lumbar"), ("injection_epidural", "lumbar"), ("opioid", "lumbar"), ("nsaid", "lumbar"),
    ("muscle_relaxant", "lumbar"), ("topical_analgesic", "lumbar"), ("anticonvulsant", "lumbar"),
    ("tens", "lumbar"), ("home_health", "lumbar"), ("dme", "lumbar"), ("psychotherapy", "systemic"),
    ("surgery", "knee"), ("functional_restoration", "lumbar"),
]
RULE_BASE, _ = load_rule_base(RULES)


def case_of(service: str, region: str, request_date: str = "2026-03-02") -> dict[str, Any]:
    """A bare request of ``service`` for ``region``: an injury two years back, nothing else documented."""
    return {"schema": 2, "case_id": f"T-{service}-{region}", "claim": {"injury_date": "2024-01-10"},
            "patient": {"age": 45, "sex": "female"},
            "diagnoses": [{"description": "pain", "category": "other", "region": region}],
            "request_date": request_date,
            "requested_items": [{"id": "1", "description": service, "service": service, "regions": [region]}]}


@pytest.mark.parametrize(("service", "region"), COMMON_TYPES, ids=[f"{s}-{r}" for s, r in COMMON_TYPES])
def test_a_2026_request_is_decided_or_needs_the_licensed_text(service: str, region: str) -> None:
    item = evaluator(RULES).evaluate(Case.model_validate(case_of(service, region))).items[0]
    assert item.decision in ("Upheld", "Overturned", "Needs licensed guideline"), item.rationale
    assert item.citation is not None and item.rule is not None
    guideline = RULE_BASE.guidelines[item.citation.guideline_id]
    assert guideline.in_force(Case.model_validate(case_of(service, region)).request_date)
    if item.decision == "Needs licensed guideline":
        assert item.needs_licensed is not None and item.basis is None
        assert item.needs_licensed.edition == guideline.edition and item.needs_licensed.missing
        assert guideline.edition in item.rationale


def test_the_edition_follows_the_request_date() -> None:
    engine = evaluator(RULES)
    editions = {}
    for date in ("2019-06-03", "2020-06-01", "2026-03-02"):
        item = engine.evaluate(Case.model_validate(case_of("imaging_mri", "lumbar", date))).items[0]
        assert item.citation is not None
        editions[date] = item.citation.guideline_id
    assert editions == {"2019-06-03": "acoem_2017_low_back", "2020-06-01": "acoem_2019_low_back",
                        "2026-03-02": "acoem_2021_low_back"}


def test_the_licensed_outcome_in_text_and_json(write_case: Any) -> None:
    path = write_case(case_of("injection_epidural", "lumbar"))
    text = run_cli("evaluate", path)
    assert text.returncode == 0, text.stderr
    assert "Needs licensed guideline" in text.stdout and "missing public source:" in text.stdout
    data = json.loads(run_cli("evaluate", path, "--format", "json").stdout)
    need = data["items"][0]["needs_licensed"]
    assert need["guideline_id"] == "acoem_2021_low_back" and need["edition"] == "2020-02-13"
    assert need["topic"] == "esi_lumbar" and need["reference"].startswith("mtus-current-reference.md")


def test_regress_counts_the_licensed_outcome_apart_from_agreement() -> None:
    row = ItemOutcome("C1", "1", "imaging_mri", "Needs licensed guideline", None, "LIC-LB-MRI", "acoem_2021_low_back",
                      "Upheld", "acoem_2021_low_back")
    decided = ItemOutcome("C2", "1", "imaging_mri", "Upheld", "not_met", "X", "odg", "Upheld", "odg")
    metrics = compute_metrics([row, decided])
    assert (metrics.needs_licensed, metrics.addressed, metrics.agree) == (1, 1, 1)
    assert not row.addressed and not row.agrees and row.needs_licensed


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_needs_licensed_topic_with_criteria_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "procedures" / "esi_acoem_licensed.yaml"
    edit(path, "needs_licensed:\n", "criteria:\n  - {id: x, label: x, test: surgery.planned is present, "
         "text: {met: a, not_met: b, not_documented: c}}\nneeds_licensed:\n")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "esi_acoem_licensed.yaml" in result.stderr and "needs the licensed text, but lists criteria" in result.stderr


def test_an_unknown_edition_is_located(rules_copy: Path) -> None:
    path = rules_copy / "procedures" / "esi_acoem_licensed.yaml"
    edit(path, "acoem_2021_low_back]", "acoem_2021_lowback]")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "esi_acoem_licensed.yaml:5: error: editions[2]: unknown guideline 'acoem_2021_lowback'" in result.stderr
    assert "did you mean 'acoem_2021_low_back'?" in result.stderr


LONG_TAIL = ["hospital_bed", "mattress", "ergonomic_furniture", "gym_membership", "hearing_aid", "transportation",
             "hygiene_supplies", "eeg", "bone_scan", "strength_rom_testing", "psych_testing", "inpatient_rehab",
             "skilled_nursing", "medical_food"]


@pytest.mark.parametrize("date", ["2016-06-01", "2026-03-02"])
@pytest.mark.parametrize("service", LONG_TAIL)
def test_a_long_tail_service_is_named_and_answered(service: str, date: str) -> None:
    assert RULE_BASE.vocabulary.has("services", service)
    item = evaluator(RULES).evaluate(Case.model_validate(case_of(service, "lumbar", date))).items[0]
    assert item.decision in ("Upheld", "Overturned", "Needs licensed guideline"), item.rationale
    assert item.citation is not None and item.rule is not None
