"""The first case format (version 1), kept to read old files: ``imr-rules migrate`` converts them to version 2.

Version 1 recorded clinical facts for the whole case (``neurologic``, ``red_flags``, ``muscle_spasm``...), not
per body region, and one prior-treatment entry made every other therapy "none". Nothing but the migration
reads this model; the engine reads version 2 (``imr_rules.cases.model``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from imr_rules.cases.model import Claim, ExpectedItem, Patient, Provenance, Recorded
from imr_rules.cases.terms import CategoryId, ProcedureId, RegionId, ServiceId, WorkStatusId

FINDING_VALUES = ("present", "absent", "not_documented")


def _coerce_finding(value: Any) -> Any:
    if value is True:
        return "present"
    if value is False:
        return "absent"
    if isinstance(value, str):
        return value.strip().lower().replace(" ", "_").replace("-", "_")
    return value


Finding = Annotated[Literal["present", "absent", "not_documented"], BeforeValidator(_coerce_finding)]
"""A documented clinical finding: present, absent, or not documented (true/false are accepted)."""

Count = Annotated[int, Field(ge=0, le=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False, frozen=True)






class Diagnosis(_Strict):
    """One diagnosis on the request or progress report."""

    description: str
    category: CategoryId | None = None
    icd10: str | None = None
    body_region: RegionId | None = None


class RequestedItem(_Strict):
    """One requested service on the Request for Authorization."""

    id: str = Field(min_length=1, max_length=16, description="Short item id, unique in the case, e.g. '1'.")
    description: str = Field(description="The service as requested, e.g. 'Physical therapy 3x6 cervical spine'.")
    service: ServiceId
    body_region: RegionId
    visits: Annotated[int, Field(ge=1, le=200)] | None = Field(
        default=None, description="Number of visits or sessions requested, when stated as a total.")
    frequency_per_week: Annotated[int, Field(ge=1, le=14)] | None = None
    duration_weeks: Annotated[int, Field(ge=1, le=104)] | None = None
    quantity: Annotated[int, Field(ge=1)] | None = Field(default=None, description="Units (tablets, patches).")
    drug: str | None = Field(default=None, description="Drug name and strength, for medication requests.")
    ingredients: list[str] = Field(default_factory=list, description="Ingredients of a compounded product.")
    ancillary_to: str | None = Field(default=None, description="Id of the requested procedure this item accompanies.")
    codes: list[str] = Field(default_factory=list, description="CPT/HCPCS/NDC codes, optional.")

    @property
    def visits_requested(self) -> int | None:
        """Visits requested: the stated total, else frequency times duration, else unknown."""
        if self.visits is not None:
            return self.visits
        if self.frequency_per_week is not None and self.duration_weeks is not None:
            return self.frequency_per_week * self.duration_weeks
        return None


class PriorTreatment(_Strict):
    """A course of treatment already given or authorized, with its documented response."""

    type: ServiceId
    body_region: RegionId | None = None
    phase: Literal["postsurgical", "nonsurgical"] | None = None
    visits_authorized: Count | None = None
    visits_completed: Count | None = None
    functional_improvement: Finding = "not_documented"
    note: str | None = None


class Surgery(_Strict):
    """A surgery performed, with its date."""

    procedure: ProcedureId
    body_region: RegionId
    date: dt.date
    description: str | None = None


class ImagingStudy(_Strict):
    """A prior imaging study and its result."""

    modality: Literal["xray", "mri", "ct", "bone_scan", "ultrasound"]
    body_region: RegionId
    date: dt.date | None = None
    abnormal: Finding = "not_documented"
    result: str | None = None


class ElectrodiagnosticStudy(_Strict):
    """A prior EMG or nerve conduction study and its result."""

    test: Literal["emg", "ncs", "emg_ncs"]
    body_region: RegionId
    date: dt.date | None = None
    abnormal: Finding = "not_documented"
    result: str | None = None


class NeurologicExam(_Strict):
    """Neurologic findings on examination."""

    focal_deficit: Finding = Field(default="not_documented", description="Objective dermatomal/myotomal deficit.")
    sensory_loss: Finding = "not_documented"
    motor_weakness: Finding = "not_documented"
    reflex_change: Finding = "not_documented"
    radicular_symptoms: Finding = "not_documented"
    nerve_tension_sign: Finding = "not_documented"


def _coerce_red_flags(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("none", "none_present", "absent"):
        return dict.fromkeys(RedFlags.model_fields, "absent")
    return value


class RedFlags(_Strict):
    """Red flags for serious pathology. ``red_flags: none`` documents all of them absent."""

    significant_trauma: Finding = "not_documented"
    suspected_fracture_or_dislocation: Finding = "not_documented"
    suspected_tumor: Finding = "not_documented"
    suspected_infection: Finding = "not_documented"
    progressive_neurologic_deficit: Finding = "not_documented"
    myelopathy: Finding = "not_documented"
    bowel_bladder_dysfunction: Finding = "not_documented"
    cardiovascular_or_visceral_cause: Finding = "not_documented"


class ConservativeCare(_Strict):
    """Conservative care tried for the condition, as a whole."""

    weeks: Annotated[int, Field(ge=0, le=2000)] | None = None
    failed: Finding = Field(default="not_documented", description="Symptoms persist despite conservative care.")
    home_exercise_program: Finding = "not_documented"


class Medication(_Strict):
    """A medication the patient takes, with its start date and documented response."""

    name: str
    drug_class: ServiceId | None = None
    start_date: dt.date | None = None
    response: Finding = "not_documented"


class OpioidMonitoring(_Strict):
    """Documentation of chronic opioid therapy: the four A's, drug screening, CURES, dose."""

    morphine_equivalent_mg_per_day: Annotated[float, Field(ge=0, le=5000)] | None = None
    analgesia_documented: Finding = "not_documented"
    activity_improvement_documented: Finding = "not_documented"
    adverse_effects_assessed: Finding = "not_documented"
    aberrant_behavior_assessed: Finding = "not_documented"
    urine_drug_screen_recent: Finding = "not_documented"
    cures_checked: Finding = "not_documented"


class FunctionalStatus(_Strict):
    """Functional deficits and treatment goals documented by the treating physician."""

    deficits_documented: Finding = "not_documented"
    goals_documented: Finding = "not_documented"
    description: str | None = None


class Clinical(_Strict):
    """The documented clinical facts from the progress reports."""

    prior_treatment: list[PriorTreatment] | None = None
    surgeries: list[Surgery] | None = None
    imaging: list[ImagingStudy] | None = None
    electrodiagnostics: list[ElectrodiagnosticStudy] | None = None
    neurologic: NeurologicExam = Field(default_factory=NeurologicExam)
    red_flags: Annotated[RedFlags, BeforeValidator(_coerce_red_flags)] = Field(default_factory=RedFlags)
    conservative_care: ConservativeCare = Field(default_factory=ConservativeCare)
    medications: list[Medication] | None = None
    functional_status: FunctionalStatus = Field(default_factory=FunctionalStatus)
    work_status: WorkStatusId | None = None
    pain_score: Annotated[float, Field(ge=0, le=10)] | None = None
    surgery_planned: Finding = "not_documented"
    muscle_spasm: Finding = "not_documented"
    neuropathic_pain: Finding = "not_documented"
    gi_risk_factors: Finding = Field(
        default="not_documented",
        description="Ulcer/bleed history, anticoagulant, high-dose or multiple NSAIDs, age over 65.")
    dyspepsia: Finding = "not_documented"
    homebound: Finding = "not_documented"
    surgery_authorized: Finding = Field(default="not_documented",
                                       description="The procedure this request accompanies is certified.")
    opioid_monitoring: OpioidMonitoring = Field(default_factory=OpioidMonitoring)
    unmapped_facts: list[str] = Field(default_factory=list,
                                      description="Documented facts the schema cannot yet express, in short own words.")












class Case(_Strict):
    """A case: the request plus the documented facts, with optional recorded or expected outcomes."""

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

    def item(self, item_id: str) -> RequestedItem:
        """The requested item with this id."""
        for requested in self.requested_items:
            if requested.id == item_id:
                return requested
        raise KeyError(item_id)
