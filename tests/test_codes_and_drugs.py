"""Items given by CPT/HCPCS codes or drug names, diagnoses given by ICD-10-CM codes: the tables and the reader."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import simple_icd_10_cm
import yaml

from imr_rules.cases.drugs import find_product, parse_amounts
from imr_rules.cases.reader import read_case
from imr_rules.cases.vocabulary import load_vocabulary, vocabulary_of
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.rulebase.loader import load_rules

from .conftest import ROOT, RULES, run_cli

BASE: dict[str, Any] = {
    "schema": 2, "case_id": "CODES", "claim": {"injury_date": "2015-01-05"}, "request_date": "2016-11-20",
    "patient": {"age": 44, "sex": "male"},
    "clinical": {
        "findings": [
            {"concept": "dermatomal_sensory_loss", "status": "present", "region": "lower_extremity", "side": "left",
             "root": "L5", "source": "examination"},
            {"concept": "red_flag", "status": "absent", "region": "lumbar"},
        ],
        "treatment": {"history_complete": True, "courses": [
            {"modality": "physical_therapy", "region": "lumbar", "visits_completed": 12,
             "function_response": "absent"}]},
        "surgeries": [], "imaging": [], "electrodiagnostics": [],
        "conservative_care": {"weeks": 40, "failed": "present"},
        "medications": [{"name": "naproxen", "drug_class": "nsaid", "start_date": "2015-03"}],
    },
}
NAMED = [
    {"id": "1", "description": "MRI lumbar spine", "service": "imaging_mri", "regions": ["lumbar"], "test_kind": "mri"},
    {"id": "2", "description": "Physical therapy", "service": "physical_therapy", "regions": ["lumbar"], "visits": 6},
    {"id": "3", "description": "EMG/NCS lower extremities", "service": "electrodiagnostic", "regions": ["lumbar"],
     "test_kind": "emg_ncs"},
    {"id": "4", "description": "L5 transforaminal epidural", "service": "injection_epidural", "regions": ["lumbar"]},
    {"id": "5", "description": "TENS unit", "service": "tens", "regions": ["lumbar"]},
    {"id": "6", "description": "Norco 10/325 #60", "service": "opioid", "regions": ["systemic"], "drug": "Norco 10/325",
     "ingredients": ["hydrocodone", "acetaminophen"], "quantity": {"amount": 60, "unit": "tablets"},
     "formulation": "oral", "route": "oral"},
]
CODED = [
    {"id": "1", "codes": ["72148"]},
    {"id": "2", "codes": ["97110", "97140"], "visits": 6},
    {"id": "3", "codes": ["95886", "95910"]},
    {"id": "4", "codes": ["64483"]},
    {"id": "5", "codes": ["E0730"]},
    {"id": "6", "drug": "Norco 10/325 #60"},
]


def _write(tmp_path: Path, data: dict[str, Any], name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _case(tmp_path: Path, items: list[dict[str, Any]], diagnoses: list[dict[str, Any]], name: str) -> Path:
    return _write(tmp_path, {**BASE, "case_id": name, "diagnoses": diagnoses, "requested_items": items}, name + ".yaml")


def test_a_case_given_by_codes_alone_is_decided_as_the_case_written_with_names(tmp_path: Path) -> None:
    named = read_case(_case(tmp_path, NAMED, [{"description": "lumbar radiculopathy", "region": "lumbar",
                                               "category": "neuralgia_neuritis_radiculitis"}], "named"))
    coded = read_case(_case(tmp_path, CODED, [{"icd10": "M54.16"}], "coded"))
    engine = evaluator()
    by_name = {i.item_id: i for i in engine.evaluate(named).items}
    by_code = {i.item_id: i for i in engine.evaluate(coded).items}
    for item_id, result in by_name.items():
        other = by_code[item_id]
        assert (other.decision, other.rule, other.basis, other.service, other.body_region) == (
            result.decision, result.rule, result.basis, result.service, result.body_region), item_id
        assert [c.state for c in other.criteria] == [c.state for c in result.criteria], item_id
    assert {r.decision for r in by_code.values()} <= {"Upheld", "Overturned"}
    assert coded.diagnoses[0].category == "neuralgia_neuritis_radiculitis" and coded.diagnoses[0].region == "lumbar"
    assert coded.item("3").test_kind == "emg_ncs" and coded.item("1").description.startswith("72148 ")


def test_an_invalid_icd10_code_is_a_located_error_with_the_closest_valid_codes(tmp_path: Path) -> None:
    diagnoses = [{"icd10": "M45.16"}, {"description": "low back pain", "icd10": "M54.166"}]
    path = _case(tmp_path, CODED[:1], diagnoses, "bad")
    with pytest.raises(InputError) as raised:
        read_case(path)
    rendered = [d.render() for d in raised.value.diagnostics]
    assert any("bad.yaml:" in r and "diagnoses[0].icd10: 'M45.16' is not an ICD-10-CM code" in r
               and "did you mean M54.16" in r for r in rendered), rendered
    assert any("diagnoses[1].icd10: 'M54.166'" in r and "did you mean M54.16?" in r for r in rendered), rendered


def test_a_code_that_disagrees_with_the_stated_service_or_region_is_a_located_warning(tmp_path: Path) -> None:
    item = {"id": "1", "description": "x-ray", "service": "imaging_xray", "regions": ["lumbar"], "codes": ["72141"]}
    path = _case(tmp_path, [item], [], "warn")
    warnings: list[Diagnostic] = []
    case = read_case(path, warnings=warnings)
    assert case.item("1").service == "imaging_xray"  # what the case writes is kept
    rendered = [w.render() for w in warnings]
    line = path.read_text().splitlines().index("  - '72141'") + 1
    assert any(f"warn.yaml:{line}: warning: requested_items[0].codes[0]: code 72141" in r
               and "imaging_mri" in r for r in rendered), rendered
    assert any("is for the cervical" in r for r in rendered)


def test_an_unknown_code_without_a_service_is_an_error_and_a_category_code_a_warning(tmp_path: Path) -> None:
    path = _case(tmp_path, [{"id": "1", "codes": ["99999"]}, {"id": "2", "codes": ["72l48"]}], [], "unknown")
    with pytest.raises(InputError) as raised:
        read_case(path)
    text = str(raised.value)
    assert "code 99999 is not in the project's code table" in text and "not a CPT or HCPCS code" in text
    warnings: list[Diagnostic] = []
    read_case(_case(tmp_path, CODED[:1], [{"icd10": "M54.1"}], "category"), warnings=warnings)
    assert any("M54.1 is a category" in w.message and "M54.16" in w.hint for w in warnings)


@pytest.mark.parametrize(("text", "strength", "amount", "unit", "refills"), [
    ("Norco 10/325 #60", "10/325", 60, "tablets", None),
    ("cyclobenzaprine 7.5 mg", "7.5 mg", None, None, None),
    ("Voltaren gel 1% 120 g", "1%", 120, "g", None),
    ("Lidoderm 5% patch, 1 box", "5%", 1, "boxes", None),
    ("lidocaine patches 30 patches", None, 30, "patches", None),
    ("tramadol 50mg #90 x2 refills", "50 mg", 90, "tablets", 2),
])
def test_strengths_quantities_and_refills_are_read_from_the_drug_line(
        text: str, strength: str | None, amount: float | None, unit: str | None, refills: int | None) -> None:
    assert parse_amounts(text, "oral") == (parse_amounts(text, "oral").__class__)(strength, amount, unit, refills)


@pytest.mark.parametrize(("name", "drug_class", "ingredients"), [
    ("Norco 10/325", "opioid", ("hydrocodone", "acetaminophen")),
    ("Ultracet", "opioid", ("tramadol", "acetaminophen")),
    ("Fioricet", "other_medication", ("butalbital", "acetaminophen", "caffeine")),
    ("Soma 350mg", "muscle_relaxant", ("carisoprodol",)),
    ("Zanaflix 4 mg", "muscle_relaxant", ("tizanidine",)),
    ("Voltaren gel 1%", "topical_analgesic", ("diclofenac",)),
    ("Terocin lotion", "topical_analgesic", ("methyl_salicylate", "capsaicin", "menthol", "lidocaine")),
    ("Duexis", "nsaid", ("ibuprofen", "famotidine")),
    ("gabapentin 300 mg", "anticonvulsant", ("gabapentin",)),
    ("flurbiprofen 20% / lidocaine 5% cream", "topical_analgesic", ("flurbiprofen", "lidocaine")),
    ("Gabapentin 10%, Cyclobenzaprine 6% compound 120 g", "topical_analgesic", ("gabapentin", "cyclobenzaprine")),
    ("Pepcid 20 mg", "ppi", ("famotidine",)),
    ("Salonpas pad", "topical_analgesic", ("methyl_salicylate", "menthol")),
])
def test_drug_names_resolve_through_the_project_table(name: str, drug_class: str, ingredients: tuple[str, ...]) -> None:
    product = find_product(name, vocabulary_of().tables, use_library=False)
    assert product is not None and (product.drug_class, product.ingredients) == (drug_class, ingredients)


def test_a_free_text_line_for_the_skin_with_several_ingredients_is_a_compound() -> None:
    tables = vocabulary_of().tables
    compound = find_product("flurbiprofen 20% / lidocaine 5% cream", tables, use_library=False)
    single = find_product("capsaicin 0.075% cream", tables, use_library=False)
    oral = find_product("naproxen 550 mg", tables, use_library=False)
    assert compound is not None and (compound.compounded, compound.formulation) == (True, "compounded")
    assert single is not None and (single.compounded, single.formulation, single.drug_class) == (
        False, "topical", "topical_analgesic")
    assert oral is not None and (oral.compounded, oral.drug_class) == (False, "nsaid")


def test_a_name_the_table_lacks_falls_back_to_the_drug_dictionary() -> None:
    tables = vocabulary_of().tables
    assert find_product("Rybix ODT 50 mg", tables, use_library=False) is None
    product = find_product("Rybix ODT 50 mg", tables)
    assert product is not None and (product.drug_class, product.ingredients, product.source) == (
        "opioid", ("tramadol",), "library")


def test_a_drug_line_alone_fills_the_service_and_a_compound_its_ingredients(tmp_path: Path) -> None:
    items = [{"id": "1", "description": "Terocin lotion 120 ml"}, {"id": "2", "drug": "Soma 350 mg #30"}]
    case = read_case(_case(tmp_path, items, [{"icd10": "S33.5XXA"}], "drugs"))
    terocin, soma = case.requested_items
    assert (terocin.service, terocin.regions, terocin.ingredients[0]) == ("topical_analgesic", ["lumbar"],
                                                                         "methyl_salicylate")
    assert (soma.service, soma.regions, soma.strength, soma.quantity is not None and soma.quantity.amount) == (
        "muscle_relaxant", ["systemic"], "350 mg", 30)


def test_the_tables_are_consistent_with_the_code_sets_and_the_vocabulary() -> None:
    vocabulary = vocabulary_of()
    tables = vocabulary.tables
    for entry in tables.icd10:
        assert simple_icd_10_cm.is_valid_item(entry.prefix), entry
    for code in tables.codes:
        if code.test_kind is not None:
            assert code.service in vocabulary.term("test_kinds", code.test_kind).services, code
    assert len(set(tables.products.values())) >= 100


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("codes.yaml", "service: imaging_mri, region: lumbar, test_kind: mri}", "service: imaging_mry, region: lumbar}",
     "'imaging_mry' is not in the services vocabulary"),
    ("codes.yaml", '"72040-72052"', '"72052-72040"', "is not a range of codes"),
    ("drugs.yaml", '"ingredients": ["hydrocodone", "acetaminophen"]', '"ingredients": ["hydrocodon"]',
     "ingredient 'hydrocodon' is not in the ingredients of the drug table"),
    ("icd10_map.yaml", "category: sprain_strain, region: cervical}", "category: sprain, region: cervical}",
     "'sprain' is not in the diagnosis_categories vocabulary"),
])
def test_a_bad_table_entry_is_a_located_error(tmp_path: Path, file: str, old: str, new: str, expected: str) -> None:
    folder = tmp_path / "vocabulary"
    shutil.copytree(RULES / "vocabulary", folder)
    text = (folder / file).read_text()
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1))
    vocabulary, diagnostics = load_vocabulary(folder)
    assert vocabulary is None
    assert any(d.file.endswith(file) and d.line and expected in d.message for d in diagnostics), \
        [d.render() for d in diagnostics]


def test_a_formulary_text_with_an_unknown_field_is_a_located_error(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    path = folder / "vocabulary" / "formulary.yaml"
    path.write_text(path.read_text().replace("{drug} is compounded", "{drog} is compounded", 1))
    problems = [d for d in load_rules(folder).diagnostics if d.severity == "error"]
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.strip().startswith("compounded:"))
    assert [(d.file.endswith("formulary.yaml"), d.line, d.message) for d in problems] == [
        (True, line + 4, "unknown template field '{drog}'")]


def test_the_documented_rfa_example_is_filled_and_screened(tmp_path: Path) -> None:
    example = re.search(r"```yaml\n(schema: 2.*?)```", (ROOT / "docs" / "codes-and-drugs.md").read_text(), re.S)
    assert example is not None
    path = tmp_path / "rfa.yaml"
    path.write_text(example.group(1))
    result = run_cli("evaluate", path, "--format", "json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    items = {item["id"]: item for item in record["case"]["requested_items"]}
    assert (items["1"]["service"], items["1"]["regions"]) == ("physical_therapy", ["lumbar"])
    assert (items["2"]["service"], items["2"]["strength"], items["2"]["quantity"]) == (
        "opioid", "10/325", {"amount": 12.0, "unit": "tablets"})
    assert items["3"]["ingredients"] == ["methyl_salicylate", "capsaicin", "menthol", "lidocaine"]
    screens = [item["formulary"] for item in record["items"]]
    assert screens[0] is None and screens[1]["outcome"] == "special_fill"
