"""The request date selects the edition: every example of a topic that exists in both the 2009 and the
2016 editions, moved in time into the other edition's period, is decided under a guideline in force then
(the other edition, or a body-part chapter that governs from then on) and cited the way that guideline is
cited (pages for 2009, sections for 2016)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from imr_rules.authoring.examples import example_paths
from imr_rules.cases.reader import parse_case
from imr_rules.engine.knowledge_base import evaluator, load_rule_base

from .conftest import RULES, load

EDITION_2009 = {"cpmtg_2009"}
EDITION_2016 = {"cpmtg_2016", "opioids_2016"}
TARGET = {"2009": dt.date(2014, 6, 16), "2016": dt.date(2017, 3, 15)}

RULE_BASE, _ = load_rule_base(RULES)
GROUPS: dict[str, set[str]] = defaultdict(set)
for _topic in RULE_BASE.topics:
    GROUPS[_topic.topic].add(_topic.guideline.id)
PAIRED = [t for t in RULE_BASE.topics
          if GROUPS[t.topic] & EDITION_2009 and GROUPS[t.topic] & EDITION_2016
          and t.guideline.id in EDITION_2009 | EDITION_2016]
MOVES = [(t, path) for t in PAIRED for path in example_paths(t)]


def shifted(data: Any, days: int) -> Any:
    """Every date in the case moved by ``days``: the clinical story is unchanged, only its period."""
    if isinstance(data, dict):
        return {k: shifted(v, days) for k, v in data.items()}
    if isinstance(data, list):
        return [shifted(v, days) for v in data]
    if isinstance(data, dt.date):
        return data + dt.timedelta(days=days)
    return data


def test_many_topics_exist_in_both_editions() -> None:
    assert len({t.topic for t in PAIRED}) >= 10


@pytest.mark.parametrize(("topic", "path"), MOVES, ids=[f"{t.id}:{p.name}" for t, p in MOVES])
def test_moving_a_case_into_the_other_edition_changes_the_citation(topic, path: Path) -> None:  # type: ignore[no-untyped-def]
    data = load(path)
    item_id = next(e["item"] for e in data["expect"] if e.get("rule") == topic.id)
    target_edition = "2016" if topic.guideline.id in EDITION_2009 else "2009"
    days = (TARGET[target_edition] - data["request_date"]).days
    moved = shifted(data, days)
    moved.pop("expect")
    result = evaluator(RULES).evaluate(parse_case(moved))
    item = next(i for i in result.items if i.item_id == item_id)
    assert item.citation is not None, item.rationale
    cited = RULE_BASE.guidelines[item.citation.guideline_id]
    assert cited.id != topic.guideline.id and cited.in_force(TARGET[target_edition]), item.citation.text
    if cited.id in EDITION_2009:
        assert "Page(s):" in item.citation.text
    elif cited.id in EDITION_2016:
        assert "Section:" in item.citation.text  # a few 2016 sections also carry known pages
