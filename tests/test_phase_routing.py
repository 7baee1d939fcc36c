"""Treatment phase routing (issue 12 item 5): acute and subacute care under the ACOEM 2004 chapters for the
first three months, the Chronic Pain guideline after, and the Postsurgical guideline for surgery done,
certified or requested with the item."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from imr_rules.cases.reader import parse_case
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.engine.results import ItemResult

from .conftest import RULES

REQUEST = dt.date(2016, 12, 5)


def _case(weeks: int, days: int = 0, **clinical: Any) -> dict[str, Any]:
    injury = REQUEST - dt.timedelta(weeks=weeks, days=days)
    return {
        "schema": 2, "case_id": "ROUTE", "claim": {"injury_date": injury.isoformat()},
        "patient": {"age": 40, "sex": "male"},
        "diagnoses": [{"description": "lumbar strain", "category": "sprain_strain", "region": "lumbar"}],
        "request_date": REQUEST.isoformat(),
        "requested_items": [{"id": "1", "description": "Physical therapy x6 lumbar", "service": "physical_therapy",
                             "regions": ["lumbar"], "visits": 6}],
        "clinical": {"surgeries": [], "treatment": {"history_complete": True}, **clinical},
    }


def _item(data: dict[str, Any], item: str = "1") -> ItemResult:
    result = evaluator(RULES).evaluate(parse_case(data))
    return next(i for i in result.items if i.item_id == item)


def _phase(item: ItemResult) -> str:
    concluded = [s.concluded for s in item.trace if s.concluded.startswith("therapy.phase = ")]
    assert len(concluded) == 1, concluded
    return concluded[0].removeprefix("therapy.phase = ")


@pytest.mark.parametrize(("weeks", "days", "phase", "rule"), [
    (0, 3, "acute", "ACOEM04-PM-ACUTE"),
    (3, 6, "acute", "ACOEM04-PM-ACUTE"),
    (4, 0, "subacute", "ACOEM04-PM-ACUTE"),
    (12, 6, "subacute", "ACOEM04-PM-ACUTE"),
    (13, 0, "chronic", "CPMTG16-PM"),
    (60, 0, "chronic", "CPMTG16-PM"),
])
def test_phase_by_weeks_since_injury(weeks: int, days: int, phase: str, rule: str) -> None:
    item = _item(_case(weeks, days))
    assert _phase(item) == phase
    assert item.rule == rule


def test_unknown_surgical_history_follows_the_dates_with_an_assumption() -> None:
    data = _case(6)
    del data["clinical"]["surgeries"]
    item = _item(data)
    assert _phase(item) == "subacute" and item.rule == "ACOEM04-PM-ACUTE"
    assert any("surgical history" in a for a in item.assumptions)


def test_surgery_within_its_period_is_postsurgical_whatever_the_injury_date() -> None:
    surgery = {"procedure": "lumbar_discectomy_laminectomy", "region": "lumbar", "date": "2016-10-03"}
    item = _item(_case(80, surgeries=[surgery]))
    assert _phase(item) == "postsurgical" and item.rule == "PSTG09-PM"


def test_surgery_after_its_period_is_chronic() -> None:
    surgery = {"procedure": "lumbar_discectomy_laminectomy", "region": "lumbar", "date": "2015-01-05"}
    data = _case(100, surgeries=[surgery], treatment={"courses": [
        {"modality": "physical_therapy", "region": "lumbar", "phase": "postsurgical", "visits_authorized": 16,
         "visits_completed": 16}]})
    assert _phase(_item(data)) == "chronic"


def test_certified_surgery_not_yet_done_is_postsurgical() -> None:
    data = _case(6)
    data["requested_items"][0]["ancillary_to"] = {
        "description": "lumbar discectomy", "procedure": "lumbar_discectomy_laminectomy", "region": "lumbar",
        "status": "certified"}
    item = _item(data)
    assert _phase(item) == "postsurgical"


def test_therapy_requested_with_a_surgery_is_postsurgical_care() -> None:
    data = _case(6)
    data["requested_items"] = [
        {"id": "1", "description": "Lumbar discectomy", "service": "surgery", "regions": ["lumbar"]},
        {"id": "2", "description": "Post-op PT x8", "service": "physical_therapy", "regions": ["lumbar"],
         "visits": 8, "ancillary_to": "1"}]
    assert _phase(_item(data, "2")) == "postsurgical"
