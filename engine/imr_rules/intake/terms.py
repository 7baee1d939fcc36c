"""The vocabulary terms letter intake maps a letter onto, as typed constants.

The vocabulary itself is data (``rules/vocabulary/``); intake's patterns name particular terms of it, and
``tests/test_vocabulary.py`` checks that every term named here is in the shipped vocabulary.
"""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    """What was requested, as a reviewer would file it."""

    physical_therapy = "physical_therapy"
    occupational_therapy = "occupational_therapy"
    chiropractic = "chiropractic"
    acupuncture = "acupuncture"
    massage = "massage"
    therapeutic_ultrasound = "therapeutic_ultrasound"
    infrared_therapy = "infrared_therapy"
    traction = "traction"
    heat_cold_therapy = "heat_cold_therapy"
    shockwave_therapy = "shockwave_therapy"
    biofeedback = "biofeedback"
    aquatic_therapy = "aquatic_therapy"
    imaging_xray = "imaging_xray"
    imaging_mri = "imaging_mri"
    imaging_ct = "imaging_ct"
    electrodiagnostic = "electrodiagnostic"
    tens = "tens"
    dme = "dme"
    lab_test = "lab_test"
    injection_epidural = "injection_epidural"
    injection_facet = "injection_facet"
    injection_trigger_point = "injection_trigger_point"
    injection_other = "injection_other"
    surgery = "surgery"
    surgical_assistant = "surgical_assistant"
    home_health = "home_health"
    psych_evaluation = "psych_evaluation"
    psychotherapy = "psychotherapy"
    partial_hospitalization = "partial_hospitalization"
    functional_restoration = "functional_restoration"
    work_conditioning = "work_conditioning"
    office_visit = "office_visit"
    referral = "referral"
    functional_capacity_evaluation = "functional_capacity_evaluation"
    opioid = "opioid"
    nsaid = "nsaid"
    ppi = "ppi"
    muscle_relaxant = "muscle_relaxant"
    topical_analgesic = "topical_analgesic"
    anticonvulsant = "anticonvulsant"
    antidepressant = "antidepressant"
    sleep_aid = "sleep_aid"
    benzodiazepine = "benzodiazepine"
    other_medication = "other_medication"
    other = "other"


class BodyRegion(StrEnum):
    """Where the request or finding applies."""

    cervical = "cervical"
    thoracic = "thoracic"
    lumbar = "lumbar"
    shoulder = "shoulder"
    elbow = "elbow"
    wrist_hand = "wrist_hand"
    hip = "hip"
    knee = "knee"
    ankle_foot = "ankle_foot"
    head = "head"
    chest = "chest"
    abdomen = "abdomen"
    upper_extremity = "upper_extremity"
    lower_extremity = "lower_extremity"
    multiple = "multiple"
    systemic = "systemic"


class Procedure(StrEnum):
    """Surgical procedures named in the Postsurgical Treatment Guidelines table (and a catch-all)."""

    cervical_fusion = "cervical_fusion"
    cervical_discectomy_laminectomy = "cervical_discectomy_laminectomy"
    lumbar_fusion = "lumbar_fusion"
    lumbar_discectomy_laminectomy = "lumbar_discectomy_laminectomy"
    rotator_cuff_repair_arthroscopic = "rotator_cuff_repair_arthroscopic"
    rotator_cuff_repair_open = "rotator_cuff_repair_open"
    rotator_cuff_complete_rupture_repair = "rotator_cuff_complete_rupture_repair"
    shoulder_labral_repair = "shoulder_labral_repair"
    knee_meniscectomy = "knee_meniscectomy"
    acl_reconstruction = "acl_reconstruction"
    total_knee_arthroplasty = "total_knee_arthroplasty"
    total_hip_arthroplasty = "total_hip_arthroplasty"
    carpal_tunnel_release = "carpal_tunnel_release"
    other = "other"


class DiagnosisCategory(StrEnum):
    """Diagnosis groups the guidelines key visit allowances and criteria to."""

    myalgia_myositis = "myalgia_myositis"
    neuralgia_neuritis_radiculitis = "neuralgia_neuritis_radiculitis"
    crps = "crps"
    arthritis = "arthritis"
    sprain_strain = "sprain_strain"
    disc_disorder = "disc_disorder"
    fracture = "fracture"
    nerve_entrapment = "nerve_entrapment"
    postsurgical_status = "postsurgical_status"
    other = "other"


class RedFlag(StrEnum):
    """Red flags for serious pathology, as listed in the ACOEM body-part chapters."""

    significant_trauma = "significant_trauma"
    suspected_fracture_or_dislocation = "suspected_fracture_or_dislocation"
    suspected_tumor = "suspected_tumor"
    suspected_infection = "suspected_infection"
    progressive_neurologic_deficit = "progressive_neurologic_deficit"
    myelopathy = "myelopathy"
    bowel_bladder_dysfunction = "bowel_bladder_dysfunction"
    cardiovascular_or_visceral_cause = "cardiovascular_or_visceral_cause"
