"""The MTUS Drug Formulary pre-screen (8 CCR 9792.27.x), stated on each medication item before the guideline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from imr_rules.cases.reader import read_case
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.engine.results import FormularyResult
from imr_rules.review.report import render_text

INJURY = "2024-03-01"


def _screen(tmp_path: Path, item: dict[str, Any], request_date: str = "2024-03-04",
            extra: dict[str, Any] | None = None) -> FormularyResult | None:
    data = {"schema": 2, "case_id": "FORM", "claim": {"injury_date": INJURY}, "request_date": request_date,
            "diagnoses": [{"icd10": "S33.5XXA"}], "requested_items": [{"id": "1", **item}], **(extra or {})}
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = evaluator().evaluate(read_case(path))
    return result.items[0].formulary


def _outcome(screen: FormularyResult | None) -> tuple[str, str, str | None]:
    assert screen is not None
    return screen.outcome, screen.review, screen.status


def test_an_exempt_drug_needs_no_prospective_review_when_in_accordance_with_the_mtus(tmp_path: Path) -> None:
    screen = _screen(tmp_path, {"drug": "naproxen 550 mg #60"})
    assert _outcome(screen) == ("exempt", "not_required", "exempt")
    assert screen is not None and "accordance with the MTUS" in screen.text and "naproxen" in screen.listings[0]


def test_a_special_fill_inside_its_window_and_outside_it(tmp_path: Path) -> None:
    inside = {"drug": "Norco 10/325 #12", "initial_visit": True, "days_supply": 3}
    assert _outcome(_screen(tmp_path, inside)) == ("special_fill", "not_required", "non_exempt")
    late = _screen(tmp_path, inside, request_date="2024-03-20")  # 19 days after the injury
    assert _outcome(late) == ("non_exempt", "required", "non_exempt")
    too_long = _screen(tmp_path, {**inside, "days_supply": 10})  # more than the 4-day limit
    assert _outcome(too_long) == ("non_exempt", "required", "non_exempt")
    unknown = _screen(tmp_path, {"drug": "Norco 10/325 #12"})  # initial visit and supply not documented
    assert _outcome(unknown) == ("non_exempt", "required", "non_exempt")
    assert unknown is not None and any("Special Fill" in note and "days of supply" in note for note in unknown.notes)


def test_a_perioperative_fill_around_the_surgery_day(tmp_path: Path) -> None:
    surgery = {"description": "knee arthroscopy", "status": "certified", "date": "2024-03-02"}
    item = {"drug": "Ultram 50 mg #20", "days_supply": 4, "ancillary_to": surgery}
    assert _outcome(_screen(tmp_path, item)) == ("perioperative_fill", "not_required", "non_exempt")
    far = {**item, "ancillary_to": {**surgery, "date": "2024-02-20"}}  # 13 days after the surgery
    assert _outcome(_screen(tmp_path, far, request_date="2024-03-04")) == ("non_exempt", "required", "non_exempt")
    recorded = _screen(tmp_path, {"drug": "Ultram 50 mg #20", "days_supply": 3}, request_date="2024-04-10",
                       extra={"clinical": {"surgeries": [{"procedure": "knee_meniscectomy", "region": "knee",
                                                          "date": "2024-04-08"}]}})
    assert _outcome(recorded) == ("perioperative_fill", "not_required", "non_exempt")


def test_an_unlisted_combination_needs_prospective_review(tmp_path: Path) -> None:
    screen = _screen(tmp_path, {"drug": "Duexis 800/26.6 #90"})
    assert _outcome(screen) == ("unlisted", "required", "unlisted")
    assert screen is not None and "ibuprofen and famotidine" in screen.text


def test_a_compounded_product_always_needs_prospective_review(tmp_path: Path) -> None:
    screen = _screen(tmp_path, {"drug": "Fluriflex cream 180 g"})
    assert _outcome(screen) == ("compounded", "required", None)
    written = _screen(tmp_path, {"description": "compound cream", "service": "topical_analgesic", "regions": ["lumbar"],
                                 "formulation": "compounded", "ingredients": ["ketoprofen 10%", "lidocaine 5%"]})
    assert _outcome(written) == ("compounded", "required", None)


def test_a_brand_over_its_generic_needs_prospective_review(tmp_path: Path) -> None:
    assert _outcome(_screen(tmp_path, {"drug": "Mobic 15 mg #30", "dispense_as_written": True})) == (
        "brand_over_generic", "required", "exempt")
    assert _outcome(_screen(tmp_path, {"drug": "Mobic 15 mg #30"})) == ("exempt", "not_required", "exempt")


def test_physician_dispensing_and_physician_administered_drugs(tmp_path: Path) -> None:
    dispensed = {"drug": "naproxen 550 mg #60", "dispensed_by": "physician", "days_supply": 30}
    assert _outcome(_screen(tmp_path, dispensed)) == ("physician_dispensed", "required", "exempt")
    first = {**dispensed, "days_supply": 7, "initial_visit": True}
    assert _outcome(_screen(tmp_path, first)) == ("exempt", "not_required", "exempt")
    office = {"drug": "Toradol 60 mg", "service": "nsaid", "regions": ["systemic"], "route": "intramuscular"}
    assert _outcome(_screen(tmp_path, office)) == ("outside_formulary", "outside", None)


def test_drug_list_status_follows_the_list_version_in_force(tmp_path: Path) -> None:
    before = _screen(tmp_path, {"drug": "Cymbalta 60 mg #30"}, request_date="2020-06-01",
                     extra={"claim": {"injury_date": "2019-01-01"}})
    after = _screen(tmp_path, {"drug": "Cymbalta 60 mg #30"}, request_date="2021-06-01",
                    extra={"claim": {"injury_date": "2019-01-01"}})
    assert _outcome(before)[2] == "non_exempt" and _outcome(after) == ("exempt", "not_required", "exempt")


@pytest.mark.parametrize("item", [
    {"drug": "naproxen 550 mg #60"},
    {"description": "Physical therapy", "service": "physical_therapy", "regions": ["lumbar"], "visits": 6},
])
def test_no_formulary_screen_before_2018_or_for_services(tmp_path: Path, item: dict[str, Any]) -> None:
    assert _screen(tmp_path, item, request_date="2017-06-01", extra={"claim": {"injury_date": "2017-01-01"}}) is None
    if "service" in item:
        assert _screen(tmp_path, item) is None


def test_the_text_report_states_the_formulary_before_the_guideline(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump({
        "schema": 2, "case_id": "FORM", "claim": {"injury_date": INJURY}, "request_date": "2024-03-04",
        "requested_items": [{"id": "1", "drug": "Norco 10/325 #12", "initial_visit": True, "days_supply": 3}]}))
    result = evaluator().evaluate(read_case(path))
    text = render_text(result, show_trace=False)
    assert text.index("Formulary: Special Fill") < text.index("Decision rationale")
    assert result.to_json()["items"][0]["formulary"]["outcome"] == "special_fill"
