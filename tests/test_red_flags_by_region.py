"""Red flags are read by the chapter of the item's region (mtus-reference 14.1, 14.2, 14.5, 14.6).

Myelopathy and bowel/bladder dysfunction are spine red flags; a knee request is neither decided by them nor
asks the physician about them, and "no red flags" at the knee needs only the knee chapter's red flags.
"""

from __future__ import annotations

from typing import Any

from imr_rules.api import KnowledgeBase

KB = KnowledgeBase.load()
SPINE_ONLY_ASKS = ("bowel and bladder function", "signs of myelopathy (gait, upper motor neuron signs)")


def _case(region: str, procedure: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": 2, "case_id": "RED-FLAGS", "claim": {"injury_date": "2016-01-04"},
            "patient": {"age": 45, "sex": "female"}, "request_date": "2016-06-01",
            "diagnoses": [{"description": "pain", "category": "other", "region": region}],
            "requested_items": [{"id": "1", "description": "surgery", "service": "surgery", "regions": [region],
                                 "procedure": procedure}],
            "clinical": {"findings": findings}}


def _finding(concept: str, status: str, region: str) -> dict[str, Any]:
    return {"concept": concept, "status": status, "region": region, "source": "history"}


def _item(case: dict[str, Any]) -> Any:
    return KB.evaluate(case).result.items[0]


def test_a_knee_request_does_not_ask_about_spine_red_flags() -> None:
    knee = _item(_case("knee", "knee_meniscectomy", []))
    lumbar = _item(_case("lumbar", "lumbar_discectomy_laminectomy", []))
    assert knee.decision == "Upheld" and lumbar.decision == "Upheld"
    assert not set(SPINE_ONLY_ASKS) & set(knee.missing_documentation)
    assert set(SPINE_ONLY_ASKS) <= set(lumbar.missing_documentation)
    assert "whether fracture or dislocation is suspected" in knee.missing_documentation


def test_bowel_bladder_dysfunction_is_no_red_flag_for_a_knee_request() -> None:
    bladder = [_finding("bowel_bladder_dysfunction", "present", "knee")]
    knee = _item(_case("knee", "knee_meniscectomy", bladder))
    assert not any(c.key.endswith("/red_flag") and c.state == "met" for c in knee.criteria)


def test_the_knee_chapter_red_flags_documented_absent_establish_no_red_flag() -> None:
    none_at_knee = [_finding(concept, "absent", "knee") for concept in (
        "suspected_fracture_or_dislocation", "suspected_tumor", "suspected_infection",
        "progressive_neurologic_deficit")]
    knee = _item(_case("knee", "knee_meniscectomy", none_at_knee))
    lumbar = _item(_case("lumbar", "lumbar_discectomy_laminectomy",
                         [{**f, "region": "lumbar"} for f in none_at_knee]))
    assert any(c.key.endswith("/red_flag") and c.state == "not_met" for c in knee.criteria)
    # the spine also needs myelopathy and bowel/bladder function, which this record does not give
    assert not any(c.key.endswith("/red_flag") and c.state == "not_met" for c in lumbar.criteria)
