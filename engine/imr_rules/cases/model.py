"""The case format, version 2: a Request for Authorization plus the documented clinical facts, per body region.

Every clinical fact is three-valued: ``present``, ``absent``, or not documented, and not documented is
written by leaving the fact out, never by a value. Findings are coded: a concept of the clinical
vocabulary, the body region and side it was found on, where it comes from and when. Treatment history
says whether it is complete as documented; without that marker a therapy not listed is not documented.
Services, regions, concepts and the other terms are vocabulary terms (``rules/vocabulary/``), checked
when a case is read. ``docs/case-format.md`` describes the format with examples.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from imr_rules.cases.terms import (
    CategoryId,
    ConceptId,
    DeviceId,
    FormulationId,
    NerveId,
    ProcedureId,
    RegionId,
    RouteId,
    ServiceId,
    TestKindId,
    UnitId,
    WorkStatusId,
)

SCHEMA_VERSION = 2

Status = Literal["present", "absent"]
"""A documented fact: present or absent. Not documented is written by leaving the fact out."""

Side = Literal["left", "right", "bilateral"]
Source = Literal["history", "examination", "imaging", "electrodiagnostic", "other_report"]
Count = Annotated[int, Field(ge=0, le=1000)]

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _partial_date_text(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _check_partial_date(value: str) -> str:
    match = _PARTIAL_DATE.match(value)
    if not match:
        raise ValueError("a date is YYYY-MM-DD, or YYYY-MM or YYYY when the record gives only the month or year")
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None
    if not 1900 <= year <= 2100:
        raise ValueError(f"year {year} is out of range")
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"month {month} is out of range")
    if day is not None:
        dt.date(year, month or 1, day)  # raises ValueError for 2015-02-30
    return value


PartialDate = Annotated[
    str, BeforeValidator(_partial_date_text), AfterValidator(_check_partial_date),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"},
                              {"type": "integer", "minimum": 1900, "maximum": 2100}],
                    "description": "A date with its precision: YYYY-MM-DD, or YYYY-MM, or YYYY."})]
"""A date known to the day, the month or the year: '2016-03-14', '2016-03' or '2016'."""


def date_bounds(value: str) -> tuple[dt.date, dt.date]:
    """The first and last day a partial date may stand for ('2016-03' -> 2016-03-01, 2016-03-31)."""
    match = _PARTIAL_DATE.match(value)
    if not match:
        raise ValueError(value)
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None
    if day is not None and month is not None:
        exact = dt.date(year, month, day)
        return exact, exact
    if month is not None:
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def date_middle(value: str) -> dt.date:
    """The middle of the period a partial date stands for (the date itself when known to the day)."""
    first, last = date_bounds(value)
    return first + (last - first) // 2


ROOT = Annotated[str, Field(pattern=r"^(C[1-8]|T(1[0-2]|[1-9])|L[1-5]|S[1-5])$",
                            description="Spinal nerve root, e.g. C6, L5, S1.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Claim(_Strict):
    """The claim the request is made under."""

    claim_number: str | None = None
    injury_date: dt.date = Field(description="Date of the industrial injury.")


class Patient(_Strict):
    """The injured worker."""

    age: Annotated[int, Field(ge=14, le=110)] | None = None
    sex: Literal["male", "female"] | None = None


def _given_by_code(required: list[str], alternatives: list[str]) -> Callable[[dict[str, Any]], None]:
    """A JSON Schema edit: ``required`` fields may be left out when one of ``alternatives`` is given (the reader
    fills them from the code or drug tables)."""
    def edit(schema: dict[str, Any]) -> None:
        schema["required"] = [name for name in schema.get("required", []) if name not in required]
        schema["anyOf"] = [{"required": required}, *({"required": [name]} for name in alternatives)]
    return edit


class Diagnosis(_Strict):
    """One diagnosis on the request or progress report, with its status, region and side.

    Given by its ICD-10-CM code only, the reader fills the description, category and region."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_given_by_code(["description"], ["icd10"]))

    description: str
    status: Literal["confirmed", "suspected", "rule_out"] = Field(
        default="confirmed", description="confirmed; suspected (working diagnosis); rule_out (to be excluded).")
    category: CategoryId | None = None
    region: RegionId | None = None
    side: Side | None = None
    icd10: Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")] | None = Field(
        default=None, description="ICD-10-CM code, e.g. M54.16; checked against the ICD-10-CM code set.")
    date: PartialDate | None = None


class Quantity(_Strict):
    """An amount and its unit: 60 tablets, 120 g, 30 ml, 10 patches."""

    amount: Annotated[float, Field(gt=0, le=100000)]
    unit: UnitId


class Portion(_Strict):
    """Part or all of a request: what was originally asked for, or what utilization review certified."""

    description: str | None = None
    visits: Annotated[int, Field(ge=0, le=200)] | None = None
    frequency_per_week: Annotated[int, Field(ge=1, le=14)] | None = None
    duration_weeks: Annotated[int, Field(ge=1, le=104)] | None = None
    quantity: Quantity | None = None
    refills: Annotated[int, Field(ge=0, le=24)] | None = None
    date: PartialDate | None = Field(default=None, description="When it was requested or certified.")


class OutsideProcedure(_Strict):
    """A procedure outside this case that an item accompanies, and where it stands."""

    description: str
    service: ServiceId = "surgery"
    procedure: ProcedureId | None = None
    region: RegionId | None = None
    side: Side | None = None
    status: Literal["certified", "not_certified", "pending", "performed"]
    date: PartialDate | None = None


class RequestedItem(_Strict):
    """One requested service on the Request for Authorization.

    Given by CPT/HCPCS codes or a drug name only (in ``drug`` or ``description``), the reader fills the
    service, regions and description (and test kind, formulation, route, strength, quantity, refills) from
    the rule base's tables; the schema cannot check those lookups, so it asks for one of these fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_given_by_code(
        ["description", "service", "regions"], ["codes", "drug", "description"]))

    id: str = Field(min_length=1, max_length=16, description="Short item id, unique in the case, e.g. '1'.")
    description: str = Field(description="The service as requested, e.g. 'Physical therapy 3x6 cervical spine'.")
    service: ServiceId
    regions: list[RegionId] = Field(min_length=1, max_length=8,
                                    description="Body regions the item is for; the first one routes the item.")
    side: Side | None = None
    visits: Annotated[int, Field(ge=1, le=200)] | None = Field(
        default=None, description="Number of visits or sessions requested, when stated as a total.")
    visits_at_least: bool = Field(default=False, description="True when the request says 'at least' the visits.")
    frequency_per_week: Annotated[int, Field(ge=1, le=14)] | None = None
    duration_weeks: Annotated[int, Field(ge=1, le=104)] | None = None
    quantity: Quantity | None = None
    refills: Annotated[int, Field(ge=0, le=24)] | None = None
    drug: str | None = Field(default=None, description="Drug name and strength, for medication requests.")
    ingredients: list[str] = Field(default_factory=list, description="Ingredients of a compounded product.")
    strength: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="Strength as written: '10/325 mg', '7.5 mg', '5%' (filled from the drug line).")
    days_supply: Annotated[int, Field(ge=1, le=365)] | None = Field(
        default=None, description="Days of supply dispensed (MTUS Drug Formulary Special and Perioperative Fill).")
    dispensed_by: Literal["pharmacy", "physician"] | None = Field(
        default=None, description="Who dispenses the drug: a pharmacy, or the physician (8 CCR 9792.27.8).")
    administered_by_physician: bool = Field(
        default=False, description="Given by the physician in the office: outside the formulary (9792.27.2).")
    dispense_as_written: bool = Field(
        default=False, description="The brand is ordered 'dispense as written' (9792.27.7).")
    initial_visit: bool | None = Field(
        default=None, description="Prescribed at the single initial treatment visit after the injury (Special Fill).")
    substantiation: Status | None = Field(
        default=None, description="The prescriber's documented reason a brand or compounded product is needed.")
    formulation: FormulationId | None = None
    route: RouteId | None = None
    test_kind: TestKindId | None = Field(default=None, description="Which test: emg, ncs, emg_ncs, ecg...")
    device: DeviceId | None = Field(
        default=None, description="For equipment (dme), which kind of device (devices vocabulary), when stated.")
    acquisition: Literal["rental", "purchase"] | None = Field(
        default=None, description="For equipment: rented (e.g. for a trial) or bought, as the request states.")
    procedure: ProcedureId | None = Field(
        default=None, description="For a surgery request, which procedure (procedures vocabulary), when stated.")
    ancillary_to: str | OutsideProcedure | None = Field(
        default=None, description="The procedure this item accompanies: the id of a requested item of this case, "
                                  "or a procedure outside the case with its status.")
    request_date: dt.date | None = Field(default=None, description="This item's own request date, when it differs.")
    retrospective: bool = Field(default=False, description="A retrospective request for a service already given.")
    date_of_service: PartialDate | None = None
    original_request: Portion | None = Field(default=None, description="The request as first made, when modified.")
    certified: Portion | None = Field(default=None, description="The part utilization review certified.")
    codes: list[str] = Field(default_factory=list, description="CPT/HCPCS/NDC codes, optional.")

    @property
    def body_region(self) -> str:
        """The region the item is routed by: the first of its regions."""
        return self.regions[0]

    @property
    def visits_requested(self) -> int | None:
        """Visits requested: the stated total, else frequency times duration, else unknown."""
        if self.visits is not None:
            return self.visits
        if self.frequency_per_week is not None and self.duration_weeks is not None:
            return self.frequency_per_week * self.duration_weeks
        return None

    @property
    def ancillary_item(self) -> str | None:
        """The id of the requested item this one accompanies, if it accompanies one of this case."""
        return self.ancillary_to if isinstance(self.ancillary_to, str) else None


class Finding(_Strict):
    """A coded clinical finding: a concept, where on the body, present or absent, from what source, when."""

    concept: ConceptId
    status: Status
    region: RegionId | None = Field(default=None, description="Where it was found; required except for "
                                                                 "whole-person concepts (scope: patient).")
    side: Side | None = None
    source: Source | None = None
    date: PartialDate | None = None
    root: ROOT | None = None
    nerve: NerveId | None = None
    value: Annotated[str, Field(max_length=40)] | float | None = Field(
        default=None, description="A measured value where stated: strength grade '4/5', degrees of motion.")


class TreatmentCourse(_Strict):
    """A course of one treatment for one region, with its documented response for pain and for function."""

    modality: ServiceId
    region: RegionId | None = Field(default=None, description="Left out: the record does not say which region.")
    side: Side | None = None
    phase: Literal["postsurgical", "nonsurgical"] | None = None
    visits_authorized: Count | None = None
    visits_completed: Count | None = None
    pain_response: Status | None = Field(default=None, description="Pain relief from the course documented.")
    function_response: Status | None = Field(
        default=None, description="Objective functional improvement from the course documented.")
    start: PartialDate | None = None
    end: PartialDate | None = None
    note: str | None = None


class TreatmentHistory(_Strict):
    """Prior treatment. With ``history_complete: true`` a modality not listed was not given (0 visits);
    without it, a modality not listed is not documented."""

    history_complete: bool = False
    courses: list[TreatmentCourse] = Field(default_factory=list)


class Surgery(_Strict):
    """A surgery performed, with its date (to the day, month or year) when the record gives it."""

    procedure: ProcedureId
    region: RegionId
    side: Side | None = None
    date: PartialDate | None = Field(
        default=None, description="When it was done; left out when the record names the surgery without a date.")
    description: str | None = None


class Study(_Strict):
    """A prior imaging or electrodiagnostic study and its result."""

    kind: TestKindId
    region: RegionId
    side: Side | None = None
    date: PartialDate | None = None
    abnormal: Status | None = None
    result: str | None = None


class ConservativeCare(_Strict):
    """Conservative care tried for the condition, as a whole."""

    weeks: Annotated[int, Field(ge=0, le=2000)] | None = None
    failed: Status | None = Field(default=None, description="Symptoms persist despite conservative care.")
    home_exercise_program: Status | None = None


class Medication(_Strict):
    """A medication the patient takes, with its start date and documented response for pain and function."""

    name: str
    drug_class: ServiceId | None = None
    start_date: PartialDate | None = None
    pain_response: Status | None = None
    function_response: Status | None = None


class OpioidMonitoring(_Strict):
    """Documentation of chronic opioid therapy: the four A's, drug screening, CURES, dose."""

    morphine_equivalent_mg_per_day: Annotated[float, Field(ge=0, le=5000)] | None = None
    analgesia_documented: Status | None = None
    activity_improvement_documented: Status | None = None
    adverse_effects_assessed: Status | None = None
    aberrant_behavior_assessed: Status | None = None
    urine_drug_screen_recent: Status | None = None
    cures_checked: Status | None = None


class Clinical(_Strict):
    """The documented clinical facts from the progress reports."""

    findings: list[Finding] = Field(default_factory=list, description="Coded findings; a finding not listed "
                                                                      "is not documented.")
    treatment: TreatmentHistory | None = Field(default=None, description="Left out: no treatment history.")
    surgeries: list[Surgery] | None = None
    imaging: list[Study] | None = None
    electrodiagnostics: list[Study] | None = None
    conservative_care: ConservativeCare = Field(default_factory=ConservativeCare)
    medications: list[Medication] | None = Field(
        default=None, description="The medication list as documented; left out when the record gives none.")
    functional_goals: Status | None = Field(default=None, description="Measurable treatment goals documented.")
    work_status: WorkStatusId | None = None
    pain_score: Annotated[float, Field(ge=0, le=10)] | None = None
    surgery_planned: Status | None = None
    opioid_monitoring: OpioidMonitoring = Field(default_factory=OpioidMonitoring)
    unmapped_facts: list[str] = Field(default_factory=list,
                                      description="Documented facts the format cannot yet express, in own words.")


Decision = Literal["Upheld", "Overturned"]


class RecordedItem(_Strict):
    """The historical IMR decision on one item, for regression."""

    item: str
    decision: Decision
    guideline: str = Field(description="Guideline id from the registry, or free text for non-MTUS sources.")
    section: str | None = None
    pages: str | None = None
    claims_administrator_guideline: str | None = Field(
        default=None, description="Guideline the claims administrator (UR) cited, as a registry id or free text.")


class Recorded(_Strict):
    """A historical determination of this case."""

    source: str | None = None
    decision_date: dt.date | None = None
    ur_denial_date: dt.date | None = None
    application_received: dt.date | None = Field(default=None, description="Date the IMR application was received.")
    reviewer_specialty: str | None = None
    priority: str | None = Field(default=None, description="IMR priority, e.g. 'Standard' or 'Expedited'.")
    items: list[RecordedItem] = Field(min_length=1)


class ExpectedItem(_Strict):
    """What an example case must come out as (rule fixtures)."""

    item: str
    decision: Literal["Upheld", "Overturned", "Not addressed", "Needs licensed guideline"]
    basis: Literal["met", "not_met", "not_documented"] | None = None
    rule: str | None = None


class Provenance(_Strict):
    """Where a value of the case came from: origin, field path and a character span of the source text."""

    origin: Literal["extracted"] = "extracted"
    field: str = Field(description="Field path in the case, e.g. 'patient.age' or 'clinical.findings[0]'.")
    start: Annotated[int, Field(ge=0)] = Field(description="Start offset of the span in the source text.")
    end: Annotated[int, Field(ge=0)] = Field(description="End offset (exclusive) of the span in the source text.")
    text: str | None = Field(default=None, description="The text of the span, for a reviewer to check.")


class Case(_Strict):
    """A case: the request plus the documented facts, with optional recorded or expected outcomes."""

    schema_version: Literal[2] = Field(alias="schema", description="The case format version: 2.")
    case_id: str = Field(min_length=1, max_length=64)
    description: str | None = None
    claim: Claim
    patient: Patient = Field(default_factory=Patient)
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    requesting_specialty: str | None = None
    request_date: dt.date = Field(description="Date of the request for authorization; selects the guideline edition.")
    requested_items: list[RequestedItem] = Field(min_length=1)
    clinical: Clinical = Field(default_factory=Clinical)
    recorded: Recorded | None = None
    expect: list[ExpectedItem] | None = None
    provenance: list[Provenance] | None = Field(
        default=None, description="Provenance of extracted values (imr-rules extract); absent for hand-written cases.")
    warnings: list[Annotated[str, Field(max_length=400)]] = Field(
        default_factory=list, description="What extraction found inconsistent or could not read in the source "
                                          "(dates out of order, services not in the vocabulary); rules never read it.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def item(self, item_id: str) -> RequestedItem:
        """The requested item with this id."""
        for requested in self.requested_items:
            if requested.id == item_id:
                return requested
        raise KeyError(item_id)

    def item_request_date(self, item: RequestedItem) -> dt.date:
        """The request date of one item: its own when given, else the case's."""
        return item.request_date or self.request_date

    def as_data(self) -> dict[str, Any]:
        """The case as plain data (JSON types), as written in a file: defaults and empty values left out."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude_none=True)
        return {"schema": SCHEMA_VERSION, **data}
