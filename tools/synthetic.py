"""Generated cases (case format 2) for benchmarks and batch tests: random but valid, with recorded outcomes."""

from __future__ import annotations

import random
from typing import Any

SERVICES = [("physical_therapy", ["lumbar", "cervical", "knee", "shoulder"]),
            ("occupational_therapy", ["wrist_hand", "elbow"]),
            ("imaging_mri", ["cervical", "lumbar", "knee", "shoulder"]),
            ("imaging_xray", ["cervical", "lumbar"]), ("chiropractic", ["lumbar", "cervical"]),
            ("acupuncture", ["lumbar", "cervical"]), ("nsaid", ["systemic"]), ("opioid", ["systemic"]),
            ("muscle_relaxant", ["systemic"]), ("tens", ["lumbar"]), ("dme", ["lumbar", "knee"])]
FINDING = ["present", "absent", None]


def _finding(rng: random.Random) -> str | None:
    return rng.choice(FINDING)


def synthetic_case(index: int, rng: random.Random) -> dict[str, Any]:
    """One generated case: 1-3 requested items with random, internally consistent facts."""
    year = rng.choice([2013, 2015, 2016, 2017])
    injury = f"{year - 1}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    request = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    items = []
    for number in range(rng.randint(1, 3)):
        service, regions = rng.choice(SERVICES)
        item: dict[str, Any] = {"id": str(number + 1), "description": f"{service} request",
                                "service": service, "regions": [rng.choice(regions)]}
        if service in ("physical_therapy", "occupational_therapy", "chiropractic", "acupuncture"):
            item.update(frequency_per_week=rng.randint(1, 3), duration_weeks=rng.randint(2, 6))
        items.append(item)
    clinical: dict[str, Any] = {
        "surgeries": [] if rng.random() < 0.7 else [
            {"procedure": rng.choice(["lumbar_fusion", "knee_meniscectomy", "cervical_fusion"]),
             "region": rng.choice(["lumbar", "knee", "cervical"]), "date": injury}],
        "treatment": {"history_complete": rng.random() < 0.5, "courses": [
            {"modality": items[0]["service"], "visits_completed": rng.randint(0, 24),
             **({} if (response := _finding(rng)) is None else {"function_response": response})}]},
        "conservative_care": {"weeks": rng.randint(0, 20)},
    }
    region = items[0]["regions"][0]
    clinical["findings"] = [
        {"concept": concept, "status": status, "region": rng.choice([region, "lumbar", "unknown"])}
        for concept in ("focal_neurologic_deficit", "radicular_symptoms", "significant_trauma", "suspected_tumor",
                        "myelopathy") if (status := _finding(rng)) is not None]
    return {"schema": 2, "case_id": f"SYN-{index:05d}", "claim": {"injury_date": injury}, "request_date": request,
            "diagnoses": [{"description": "synthetic", "category": rng.choice(["myalgia_myositis", "crps", "other"])}],
            "requested_items": items, "clinical": clinical,
            "recorded": {"items": [{"item": i["id"], "decision": "Upheld", "guideline": "cpmtg_2016"} for i in items]}}
