"""An item requested with a procedure not yet performed: no postsurgical visit can have been given yet."""

from __future__ import annotations

from typing import Any

import pytest

from imr_rules.cases.facts import BEFORE_SURGERY_SOURCE, project_item
from imr_rules.cases.reader import parse_case

NAMES = ["postop.visits_completed", "postop.visits_authorized", "surgery.procedure"]


def _case(ancillary_to: Any, surgeries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "schema": 2, "case_id": "T-PLANNED", "claim": {"injury_date": "2016-03-01"},
        "request_date": "2016-11-01",
        "requested_items": [
            {"id": "1", "description": "Rotator cuff repair", "service": "surgery", "regions": ["shoulder"],
             "procedure": "rotator_cuff_repair_arthroscopic"},
            {"id": "2", "description": "Post-op PT x12", "service": "physical_therapy", "regions": ["shoulder"],
             "visits": 12, "ancillary_to": ancillary_to},
        ],
        "clinical": {"surgeries": surgeries} if surgeries is not None else {},
    }


def _facts(data: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    case = parse_case(data)
    return {f.name: (f.value, f.source) for f in project_item(case, case.requested_items[1], NAMES)}


OUTSIDE = {"description": "cuff repair", "procedure": "rotator_cuff_repair_arthroscopic", "region": "shoulder",
           "status": "certified"}


@pytest.mark.parametrize("ancillary_to", ["1", OUTSIDE])
def test_a_procedure_not_yet_performed_has_no_postsurgical_visits(ancillary_to: Any) -> None:
    facts = _facts(_case(ancillary_to))
    assert facts["postop.visits_completed"] == (0, BEFORE_SURGERY_SOURCE)
    assert facts["postop.visits_authorized"] == (0, BEFORE_SURGERY_SOURCE)
    assert facts["surgery.procedure"] == ("rotator_cuff_repair_arthroscopic", BEFORE_SURGERY_SOURCE)


def test_a_performed_procedure_leaves_the_visits_to_the_record() -> None:
    performed = {"description": "cuff repair", "procedure": "rotator_cuff_repair_arthroscopic", "region": "shoulder",
                 "status": "performed", "date": "2016-10-01"}
    facts = _facts(_case(performed))
    assert facts["postop.visits_completed"][0] is None
    assert facts["surgery.procedure"][1] != BEFORE_SURGERY_SOURCE
