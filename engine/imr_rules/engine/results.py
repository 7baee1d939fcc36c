"""Result records of an evaluation; ``to_json`` gives the documented, stable JSON schema (version 1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1
NEEDS_LICENSED: Literal["Needs licensed guideline"] = "Needs licensed guideline"
"""The decision when only the licensed guideline text could decide: not a determination, not agreement."""
Outcome = Literal["Upheld", "Overturned", "Not addressed", "Needs licensed guideline"]
Basis = Literal["met", "not_met", "not_documented"]


@dataclass
class FactRead:
    """A fact a rule read: its value as shown, whether documented, and where it came from."""

    name: str
    value: Any
    documented: bool
    source: str


@dataclass
class CriterionResult:
    """One criterion of the deciding rule, with its state and the facts it read."""

    key: str
    label: str
    state: Basis
    depth: int
    reads: list[FactRead] = field(default_factory=list)
    note: str | None = None


@dataclass
class TraceStep:
    """One rule firing, in order."""

    step: int
    rule: str
    kind: str
    concluded: str
    reads: list[FactRead] = field(default_factory=list)


@dataclass
class Citation:
    """The guideline a decision rests on."""

    guideline_id: str
    label: str
    edition: str
    source: str
    section: str | None
    pages: str | None
    text: str


@dataclass
class FormularyResult:
    """The MTUS Drug Formulary pre-screen of a medication item, stated before the guideline criteria.

    ``review``: ``not_required`` (Exempt, Special Fill, Perioperative Fill: no prospective review when in
    accordance with the MTUS), ``required`` (prospective review) or ``outside`` (given by the physician).
    """

    outcome: str
    label: str
    review: str
    section: str
    status: str | None
    text: str
    listings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


@dataclass
class LicensedNeed:
    """Why an item needs the licensed guideline: the topic, the edition in force, what public source is missing."""

    topic: str
    guideline_id: str
    edition: str
    section: str | None
    missing: str
    reference: str


@dataclass
class NotAddressedReason:
    """Why no rule decided an item, for programs: ``kind`` is ``no_rule`` (no rule for the service and region
    in any period), ``not_in_force`` (none in force on the request date applied, the others cover other
    periods) or ``conditions`` (rules in force whose conditions did not hold). ``rules_in_force`` names those
    rules; ``periods`` the guideline periods the rules for the service and region cover."""

    kind: Literal["no_rule", "not_in_force", "conditions"]
    service: str
    region: str
    request_date: str
    rules_in_force: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)


@dataclass
class ItemResult:
    """The outcome for one requested item."""

    item_id: str
    description: str
    service: str
    body_region: str
    decision: Outcome
    basis: Basis | None
    rule: str | None
    citation: Citation | None
    rationale: str
    criteria: list[CriterionResult] = field(default_factory=list)
    missing_documentation: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trace: list[TraceStep] = field(default_factory=list)
    formulary: FormularyResult | None = None
    """The formulary pre-screen (medication items dispensed from 1/1/2018), or None."""
    needs_licensed: LicensedNeed | None = None
    not_addressed: NotAddressedReason | None = None
    """Why no rule decided the item (decision "Not addressed"), or None."""


@dataclass
class CaseResult:
    """The outcome for a whole case."""

    case_id: str
    request_date: str
    rule_base_version: str
    engine_version: str
    items: list[ItemResult]

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``{"schema_version": 1, "case_id": ..., "items": [...]}``."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}
