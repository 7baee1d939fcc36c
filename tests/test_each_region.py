"""Imaging requested for several regions is judged region by region: necessary only if it is for each."""

from __future__ import annotations

from typing import Any

from imr_rules.api import KnowledgeBase

KB = KnowledgeBase.load()

CERVICAL_DEFICIT = [
    {"concept": "progressive_neurologic_deficit", "status": "present", "region": "cervical", "source": "examination"},
    {"concept": "myotomal_weakness", "status": "present", "region": "cervical", "side": "right", "root": "C6",
     "source": "examination", "value": "4/5"},
]
LUMBAR_DEFICIT = [
    {"concept": "progressive_neurologic_deficit", "status": "present", "region": "lumbar", "source": "examination"},
]


def _case(regions: list[str], service: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": 2, "case_id": "EACH-REGION", "claim": {"injury_date": "2015-06-01"},
            "patient": {"age": 45, "sex": "male"}, "request_date": "2016-03-01",
            "diagnoses": [{"description": "neck and back pain", "category": "other", "region": "cervical"}],
            "requested_items": [{"id": "1", "description": "study", "service": service, "regions": regions}],
            "clinical": {"findings": findings}}


def _item(case: dict[str, Any]) -> Any:
    return KB.evaluate(case).result.items[0]


def test_one_region_without_indication_upholds_the_whole_request() -> None:
    cervical_only = _item(_case(["cervical"], "imaging_mri", CERVICAL_DEFICIT))
    both = _item(_case(["cervical", "lumbar"], "imaging_mri", CERVICAL_DEFICIT))
    assert cervical_only.decision == "Overturned"
    assert both.decision == "Upheld" and both.body_region == "lumbar"
    assert any("cervical Overturned" in note and "lumbar Upheld" in note for note in both.notes)


def test_every_region_indicated_overturns() -> None:
    both = _item(_case(["cervical", "lumbar"], "imaging_mri", CERVICAL_DEFICIT + LUMBAR_DEFICIT))
    assert both.decision == "Overturned" and both.body_region == "cervical"
    assert any("cervical Overturned, lumbar Overturned" in note for note in both.notes)


def test_the_order_of_regions_does_not_change_the_decision() -> None:
    forward = _item(_case(["cervical", "lumbar"], "imaging_mri", CERVICAL_DEFICIT))
    backward = _item(_case(["lumbar", "cervical"], "imaging_mri", CERVICAL_DEFICIT))
    assert forward.decision == backward.decision == "Upheld"
    assert forward.rule == backward.rule


def test_services_not_marked_each_region_are_routed_by_their_first_region() -> None:
    therapy = _item({**_case(["cervical", "lumbar"], "physical_therapy", []),
                     "requested_items": [{"id": "1", "description": "PT", "service": "physical_therapy",
                                          "regions": ["cervical", "lumbar"], "visits": 6}]})
    assert therapy.body_region == "cervical"
    assert not any("judged on its own" in note for note in therapy.notes)


def test_a_first_region_no_rule_addresses_falls_back_to_the_next_region_with_a_rule() -> None:
    def traction(regions: list[str]) -> Any:
        return _item({**_case(regions, "traction", []),
                      "requested_items": [{"id": "1", "description": "traction", "service": "traction",
                                           "regions": regions, "visits": 6}]})
    neck_only = traction(["cervical"])
    listed_neck_first = traction(["cervical", "thoracic", "lumbar"])
    listed_back_first = traction(["lumbar", "cervical", "thoracic"])
    assert neck_only.decision == "Not addressed"
    assert listed_neck_first.decision == listed_back_first.decision != "Not addressed"
    assert listed_neck_first.rule == listed_back_first.rule
    assert listed_neck_first.body_region == "lumbar"
    assert any("judged by its lumbar region" in note for note in listed_neck_first.notes)
