"""The explanation of a case as data: each item's result, the deciding rule's track record and what would
change the decision. ``imr-rules explain`` prints it as text or JSON (``explain --format json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from imr_rules.cases.model import Case
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.results import CaseResult, ItemResult
from imr_rules.review import whatif
from imr_rules.review.report import render_explanation
from imr_rules.review.track_record import load_track_record, record_lines
from imr_rules.review.whatif import Change, what_would_change

EXPLANATION_SCHEMA_VERSION = 1


@dataclass
class FactChange:
    """One fact a change sets: its value now and after (``None``: not documented)."""

    fact: str
    now: Any
    after: Any


@dataclass
class ChangeOffer:
    """A change the treating physician could make, and the outcome the item would then have."""

    changes: list[FactChange]
    offers: list[str]
    decision: str
    basis: str | None
    rule: str | None


@dataclass
class ItemExplanation:
    """One item: its result, the deciding rule's track record, and what would change its decision
    (``None``: not searched, see ``whatif.MAX_SEARCHED_ITEMS``)."""

    item: ItemResult
    track_record: list[str] = field(default_factory=list)
    what_would_change: list[ChangeOffer] | None = None


@dataclass
class ExplanationRecord:
    """The JSON form of ``explain``: ``{"schema_version": 1, "case_id": ..., "items": [...]}``."""

    schema_version: int
    case_id: str
    request_date: str
    rule_base_version: str
    engine_version: str
    items: list[ItemExplanation]


@dataclass(frozen=True)
class Explanation:
    """What ``explain`` found for a case (all items, or the one asked for)."""

    result: CaseResult
    changes: dict[str, list[Change]]
    track: dict[str, list[str]]
    item_id: str | None = None

    def text(self) -> str:
        """The explanation as ``imr-rules explain`` prints it."""
        return render_explanation(self.result, self.changes, self.item_id, self.track)

    def record(self) -> ExplanationRecord:
        """The explanation as typed data (``to_json`` gives its JSON form)."""
        items = [ItemExplanation(item, self.track.get(item.item_id, []), _offers(self.changes.get(item.item_id)))
                 for item in self.result.items if self.item_id is None or item.item_id == self.item_id]
        return ExplanationRecord(EXPLANATION_SCHEMA_VERSION, self.result.case_id, self.result.request_date,
                                 self.result.rule_base_version, self.result.engine_version, items)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (schema: ``docs/schemas/explanation.schema.json``)."""
        return asdict(self.record())


def _offers(found: list[Change] | None) -> list[ChangeOffer] | None:
    if found is None:
        return None
    return [ChangeOffer([FactChange(fact, now, after) for fact, now, after in change.changes], list(change.offers),
                        change.decision, change.basis, change.rule) for change in found]


def explain_case(engine: Evaluator, case: Case, rules_dir: Path, item_id: str | None = None) -> Explanation:
    """Evaluate ``case`` and explain every item (or ``item_id``): criteria, track record, what would change it.

    What would change the decision is searched for the first ``whatif.MAX_SEARCHED_ITEMS`` items asked for.
    """
    result = engine.evaluate(case)
    wanted = [i.id for i in case.requested_items if item_id is None or i.id == item_id][:whatif.MAX_SEARCHED_ITEMS]
    changes = {wanted_id: what_would_change(engine, case, wanted_id, full=result) for wanted_id in wanted}
    record = load_track_record(rules_dir)
    track = {i.item_id: record_lines(record, i.rule, [c.key for c in i.criteria if c.state == i.basis],
                                     result.rule_base_version) for i in result.items}
    return Explanation(result, changes, track, item_id)
