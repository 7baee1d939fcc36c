"""Case format 2: region-scoped findings, is_a closure, treatment history, shared concept derivations, schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from imr_rules.cases.facts import project_item
from imr_rules.cases.model import Case
from imr_rules.cases.reader import parse_case
from imr_rules.cases.schema import case_schema
from imr_rules.cases.vocabulary import vocabulary_of
from imr_rules.engine.knowledge_base import evaluator

from .conftest import ROOT, RULES, run_cli

BASE: dict[str, Any] = {
    "schema": 2, "case_id": "T", "claim": {"injury_date": "2016-01-04"}, "request_date": "2016-12-01",
    "requested_items": [{"id": "1", "description": "lumbar MRI", "service": "imaging_mri", "regions": ["lumbar"]},
                        {"id": "2", "description": "cervical MRI", "service": "imaging_mri", "regions": ["cervical"]},
                        {"id": "3", "description": "wrist x-ray", "service": "imaging_xray", "regions": ["wrist_hand"]},
                        {"id": "4", "description": "right knee MRI", "service": "imaging_mri", "regions": ["knee"],
                         "side": "right"}],
    "clinical": {},
}


def case_with(**clinical: Any) -> Case:
    data = copy.deepcopy(BASE)
    data["clinical"] = clinical
    return parse_case(data)


def fact(case: Case, item_id: str, name: str) -> Any:
    [value] = project_item(case, case.item(item_id), [name], {}, vocabulary_of())
    return value.value


def finding(concept: str, status: str = "present", **more: Any) -> dict[str, Any]:
    return {"concept": concept, "status": status, **more}


def test_a_finding_on_one_region_never_satisfies_a_criterion_about_another() -> None:
    case = case_with(findings=[finding("suspected_fracture_or_dislocation", region="wrist_hand")])
    assert fact(case, "3", "red_flag.suspected_fracture_or_dislocation") == "present"
    assert fact(case, "1", "red_flag.suspected_fracture_or_dislocation") is None
    assert fact(case, "2", "red_flag.suspected_fracture_or_dislocation") is None
    assert fact(case, "4", "red_flag.suspected_fracture_or_dislocation") is None


def test_a_wrist_fracture_is_not_a_red_flag_for_a_lumbar_xray_end_to_end() -> None:
    example = yaml.safe_load((RULES / "diagnostics" / "lumbar_xray_acoem_2004.examples" / "upheld.yaml").read_text())
    engine = evaluator(RULES)
    baseline = engine.evaluate(parse_case(example)).items[0]
    wrist = copy.deepcopy(example)
    wrist["clinical"].setdefault("findings", []).append(finding("suspected_fracture_or_dislocation",
                                                                region="wrist_hand"))
    lumbar = copy.deepcopy(example)
    lumbar["clinical"].setdefault("findings", []).append(finding("suspected_fracture_or_dislocation",
                                                                 region="lumbar"))
    assert engine.evaluate(parse_case(wrist)).items[0].decision == baseline.decision == "Upheld"
    assert engine.evaluate(parse_case(lumbar)).items[0].decision == "Overturned"


def test_neurologic_findings_cross_between_a_spinal_region_and_its_limb_only() -> None:
    leg = case_with(findings=[finding("sensory_loss", region="lower_extremity")])
    assert fact(leg, "1", "neuro.sensory_loss") == "present"      # leg numbness counts for the lumbar spine
    assert fact(leg, "2", "neuro.sensory_loss") is None           # not for the neck
    arm = case_with(findings=[finding("sensory_loss", region="upper_extremity")])
    assert fact(arm, "1", "neuro.sensory_loss") is None
    assert fact(arm, "2", "neuro.sensory_loss") == "present"
    lumbar_root = case_with(findings=[finding("dermatomal_sensory_loss", region="lumbar", root="L5")])
    assert fact(lumbar_root, "4", "neuro.sensory_loss") == "present"   # the knee is in the L5 territory
    spasm = case_with(findings=[finding("muscle_spasm", region="lower_extremity")])
    assert fact(spasm, "1", "exam.muscle_spasm") is None          # only neurologic findings cross


def test_side_is_respected_when_both_sides_are_stated() -> None:
    left = case_with(findings=[finding("mcmurray_test", region="knee", side="left")])
    right = case_with(findings=[finding("mcmurray_test", region="knee", side="right")])
    both = case_with(findings=[finding("mcmurray_test", region="knee", side="bilateral")])
    assert fact(left, "4", "finding.mcmurray_test") is None
    assert fact(right, "4", "finding.mcmurray_test") == "present"
    assert fact(both, "4", "finding.mcmurray_test") == "present"


def test_is_a_closure_up_for_presence_and_down_for_absence() -> None:
    mcmurray = case_with(findings=[finding("mcmurray_test", region="knee")])
    assert fact(mcmurray, "4", "finding.meniscal_provocative_test") == "present"
    assert fact(mcmurray, "4", "finding.internal_derangement_sign") == "present"
    assert fact(mcmurray, "4", "finding.lachman_test") is None
    no_deficit = case_with(findings=[finding("neurologic_deficit", "absent", region="lumbar")])
    assert fact(no_deficit, "1", "neuro.sensory_loss") == "absent"
    assert fact(no_deficit, "1", "finding.dermatomal_sensory_loss") == "absent"
    assert fact(no_deficit, "1", "neuro.radicular_symptoms") is None      # not a kind of deficit
    negative_mcmurray = case_with(findings=[finding("mcmurray_test", "absent", region="knee")])
    assert fact(negative_mcmurray, "4", "finding.internal_derangement_sign") is None  # one test is not all signs


def test_unknown_region_is_read_for_every_region_as_version_1_did() -> None:
    case = case_with(findings=[finding("significant_trauma", region="unknown")])
    assert {fact(case, i, "red_flag.significant_trauma") for i in ("1", "2", "3", "4")} == {"present"}


def test_a_therapy_not_listed_is_not_documented_unless_the_history_is_complete() -> None:
    data = copy.deepcopy(BASE)
    data["requested_items"] = [{"id": "1", "description": "chiro", "service": "chiropractic", "regions": ["lumbar"]},
                               {"id": "2", "description": "PT", "service": "physical_therapy", "regions": ["lumbar"]}]
    data["clinical"] = {"treatment": {"courses": [{"modality": "physical_therapy", "region": "lumbar",
                                                   "visits_completed": 12, "function_response": "absent"}]}}
    partial = parse_case(data)
    assert fact(partial, "2", "prior.visits_completed") == 12
    assert fact(partial, "1", "prior.visits_completed") is None
    data["clinical"]["treatment"]["history_complete"] = True
    complete = parse_case(data)
    assert fact(complete, "1", "prior.visits_completed") == 0
    assert fact(complete, "1", "prior.functional_improvement") is None   # no course, no response
    elsewhere = copy.deepcopy(data)
    elsewhere["clinical"]["treatment"]["courses"][0]["region"] = "cervical"
    assert fact(parse_case(elsewhere), "2", "prior.visits_completed") == 0


def test_outside_procedure_status_and_partial_dates() -> None:
    data = copy.deepcopy(BASE)
    data["requested_items"] = [{"id": "1", "description": "post-op cold unit", "service": "dme", "regions": ["knee"],
                                "ancillary_to": {"description": "knee arthroscopy", "status": "certified"}}]
    data["clinical"] = {"surgeries": [{"procedure": "knee_meniscectomy", "region": "knee", "date": "2016-06"}]}
    case = parse_case(data)
    assert fact(case, "1", "surgery.authorized") == "present"
    assert fact(case, "1", "item.ancillary") == "present"
    assert fact(case, "1", "surgery.months_since") == 5.6   # from the middle of June 2016
    data["requested_items"][0]["ancillary_to"]["status"] = "pending"
    assert fact(parse_case(data), "1", "surgery.authorized") is None


# ---- shared concept derivations, read by probe topics in a copy of the rule base ----------------------------

PROBE = """\
kind: topic
id: PROBE-{name}
title: probe of {fact}
topic: probe_{name}
guideline: cpmtg_2016
citation: {{section: probe}}
applies_to: {{services: [probe_{name}]}}
criteria:
  - id: reads
    label: probe
    test: {fact} is present
    text: {{met: met, not_met: not met, not_documented: not documented}}
rationale: {{overturned: "{{citation}}", upheld: "{{citation}}", not_documented: "{{citation}}"}}
"""

PROBES = {"derangement": "exam.internal_derangement_suspected", "radiculopathy": "exam.radiculopathy",
          "progress": "care.failed_to_progress"}


@pytest.fixture(scope="module")
def probe_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    target = tmp_path_factory.mktemp("probe") / "rules"
    shutil.copytree(RULES, target)
    services = target / "vocabulary" / "services.yaml"
    services.write_text(services.read_text() + "".join(
        f"  - {{id: probe_{name}, label: probe {name}, group: other}}\n" for name in PROBES))
    for name, probed in PROBES.items():
        (target / "shared" / f"probe_{name}.yaml").write_text(PROBE.format(name=name, fact=probed))
    return target


def probe(rules: Path, name: str, region: str, **clinical: Any) -> str | None:
    data = copy.deepcopy(BASE)
    data["requested_items"] = [{"id": "1", "description": "probe", "service": f"probe_{name}", "regions": [region]}]
    data["clinical"] = clinical
    engine = evaluator(rules)
    case = parse_case(data)
    item = engine.evaluate(case).items[0]
    assert item.rule == f"PROBE-{name}"
    return {"met": "present", "not_met": "absent"}.get(item.criteria[0].state)


def test_internal_derangement_from_any_sign_of_the_requested_joint(probe_rules: Path) -> None:
    assert probe(probe_rules, "derangement", "knee", findings=[finding("mcmurray_test", region="knee")]) == "present"
    assert probe(probe_rules, "derangement", "knee", findings=[finding("giving_way", region="knee")]) == "present"
    assert probe(probe_rules, "derangement", "shoulder", findings=[finding("hawkins_test", region="shoulder")]) \
        == "present"
    assert probe(probe_rules, "derangement", "shoulder", findings=[finding("mcmurray_test", region="knee")]) is None
    assert probe(probe_rules, "derangement", "knee",
                 findings=[finding("internal_derangement_sign", "absent", region="knee")]) == "absent"


def test_radiculopathy_needs_sensory_motor_or_reflex_and_radiation_at_one_root(probe_rules: Path) -> None:
    same_root = [finding("dermatomal_sensory_loss", region="lower_extremity", root="L5"),
                 finding("reflex_change", region="lower_extremity", root="L5"),
                 finding("radicular_pain", region="lower_extremity")]
    assert probe(probe_rules, "radiculopathy", "lumbar", findings=same_root) == "present"
    other_root = copy.deepcopy(same_root)
    other_root[1]["root"] = "S1"
    assert probe(probe_rules, "radiculopathy", "lumbar", findings=other_root) == "absent"
    no_roots = [finding("sensory_loss", region="lumbar"), finding("motor_weakness", region="lumbar"),
                finding("radicular_symptoms", region="lumbar")]
    assert probe(probe_rules, "radiculopathy", "lumbar", findings=no_roots) == "present"
    arm = [dict(f, region="upper_extremity") for f in no_roots]
    assert probe(probe_rules, "radiculopathy", "lumbar", findings=arm) is None     # arm findings: not lumbar
    assert probe(probe_rules, "radiculopathy", "cervical", findings=arm) == "present"


def test_failure_to_progress_after_a_documented_course(probe_rules: Path) -> None:
    def course(**more: Any) -> dict[str, Any]:
        return {"courses": [{"modality": "physical_therapy", "region": "lumbar", **more}]}

    assert probe(probe_rules, "progress", "lumbar",
                 treatment=course(visits_completed=12, function_response="absent")) == "present"
    assert probe(probe_rules, "progress", "lumbar",
                 treatment=course(visits_completed=12, function_response="present")) == "absent"
    assert probe(probe_rules, "progress", "lumbar", treatment=course(visits_completed=12)) is None
    assert probe(probe_rules, "progress", "knee",
                 treatment=course(visits_completed=12, function_response="absent")) is None


# ---- the JSON Schema accepts what the reader accepts ---------------------------------------------------------

def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((ROOT / "docs" / "case.schema.json").read_text())
    return schema


def test_exported_schema_is_generated_from_models_and_vocabulary() -> None:
    assert _schema() == case_schema(vocabulary_of())


def test_every_case_in_the_repository_is_version_2_and_valid_for_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(_schema(), format_checker=jsonschema.FormatChecker())
    paths = [*sorted((ROOT / "cases").rglob("*.yaml")), *sorted(RULES.rglob("*.examples/*.yaml"))]
    assert len(paths) > 400
    for path in paths:
        data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], path


@pytest.mark.parametrize("change, accepted", [
    (lambda d: d, True),
    (lambda d: d["clinical"].update(findings=[finding("muscle_spasm", region="lumbar", date=2016)]), True),
    (lambda d: d["clinical"].update(findings=[finding("muscle_spasm", region="lumbar", date="2016-03")]), True),
    (lambda d: d["clinical"].update(findings=[finding("muscle_spasm", "yes", region="lumbar")]), False),
    (lambda d: d["clinical"].update(findings=[finding("muscle_spasm", region="lumbar", date="March 2016")]), False),
    (lambda d: d["requested_items"][0].update(visits="6"), False),
    (lambda d: d["requested_items"][0].update(visits=6), True),
    (lambda d: d["requested_items"][0].update(service="physio"), False),
    (lambda d: d["requested_items"][0].update(quantity={"amount": 60, "unit": "tablets"}), True),
    (lambda d: d["requested_items"][0].update(quantity=60), False),
    (lambda d: d.pop("schema"), False),
    (lambda d: d.update(schema=1), False),
    (lambda d: d["clinical"].update(neurologic={"sensory_loss": "present"}), False),
])
def test_schema_and_reader_agree(change: Any, accepted: bool, tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    change(data)
    validator = jsonschema.Draft202012Validator(_schema())
    assert validator.is_valid(data) is accepted
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = run_cli("validate", "--no-examples", RULES, path)
    assert (result.returncode == 0) is accepted, result.stderr


# ---- migrate ---------------------------------------------------------------------------------------------

V1 = """\
# A version 1 case, hand-written.
case_id: OLD-1
claim: {injury_date: 2015-01-01}
request_date: 2015-06-01   # from the RFA
requested_items:
  - {id: "1", description: PT lumbar, service: physical_therapy, body_region: lumbar, visits: 6}
  - {id: "2", description: neck MRI, service: imaging_mri, body_region: cervical}
clinical:
  prior_treatment:
    - {type: physical_therapy, body_region: lumbar, visits_completed: 12, functional_improvement: absent}
  neurologic:
    sensory_loss: present   # left L5, on examination
  red_flags: none
  muscle_spasm: yes
  dyspepsia: present
"""


def test_migrate_converts_a_v1_file_keeping_comments_and_warns_about_unknown_regions(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(V1)
    refused = run_cli("evaluate", path)
    assert refused.returncode == 3 and "imr-rules migrate" in refused.stderr
    assert "old.yaml:2: error: schema" in refused.stderr
    result = run_cli("migrate", path, "--in-place")
    assert result.returncode == 0, result.stderr
    assert "region set to 'unknown'" in result.stderr and str(path) in result.stderr
    text = path.read_text()
    assert text.startswith("# A version 1 case, hand-written.\nschema: 2\n")
    assert "# from the RFA" in text and "# left L5, on examination" in text
    data = yaml.safe_load(text)
    findings = {f["concept"]: f for f in data["clinical"]["findings"]}
    assert findings["sensory_loss"] == {"concept": "sensory_loss", "status": "present", "region": "unknown"}
    assert findings["muscle_spasm"]["status"] == "present"
    assert "region" not in findings["dyspepsia"]                       # a whole-person concept
    assert {f["concept"] for f in data["clinical"]["findings"] if f["status"] == "absent"} >= {"myelopathy"}
    assert data["clinical"]["treatment"]["history_complete"] is False
    assert data["requested_items"][0]["regions"] == ["lumbar"]
    assert run_cli("evaluate", path).returncode == 0
    again = run_cli("migrate", path, "--in-place")
    assert again.returncode == 0 and "1 already version 2" in again.stderr
    assert path.read_text() == text


def test_migrate_attaches_the_shared_region_and_documented_none(tmp_path: Path) -> None:
    path = tmp_path / "one_region.yaml"
    path.write_text(V1.replace("service: imaging_mri, body_region: cervical", "service: imaging_mri, "
                               "body_region: lumbar").replace("""  prior_treatment:
    - {type: physical_therapy, body_region: lumbar, visits_completed: 12, functional_improvement: absent}
""", "  prior_treatment: []\n"))
    result = run_cli("migrate", path)
    assert result.returncode == 0 and "unknown" not in result.stderr
    data = yaml.safe_load(result.stdout)
    assert {f.get("region") for f in data["clinical"]["findings"]} == {"lumbar", None}
    assert data["clinical"]["treatment"] == {"history_complete": True}


def test_migrate_reports_a_bad_v1_file_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(V1.replace("visits: 6", "vists: 6"))
    result = run_cli("migrate", path, "--in-place")
    assert result.returncode == 3
    assert "bad.yaml:6: error: requested_items[0].vists: unknown field 'vists'" in result.stderr
    assert path.read_text() == V1.replace("visits: 6", "vists: 6")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_documented_example_is_valid_and_comes_out_as_it_says(tmp_path: Path) -> None:
    import re

    for doc in ("README.md", "docs/case-format.md"):
        example = re.search(r"```yaml\n(schema: 2.*?)```", (ROOT / doc).read_text(), re.S)
        assert example is not None, doc
        path = tmp_path / "example.yaml"
        path.write_text(example.group(1))
        result = run_cli("validate", "--no-examples", RULES, path)
        assert result.returncode == 0, (doc, result.stderr)
    decided = json.loads(run_cli("evaluate", path, "--format", "json").stdout)
    assert decided["items"][0]["decision"] == "Overturned" and decided["items"][0]["rule"] == "ACOEM04-LB-ESI"


def test_migrate_a_folder_twice_touches_only_version_1_case_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(V1)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text(V1.replace("OLD-1", "OLD-2"))
    rule = "kind: derivations\nid: X\ntitle: not a case\nderive: []\n"
    (tmp_path / "sub" / "rule.yaml").write_text(rule)
    first = run_cli("migrate", tmp_path, "--in-place")
    assert first.returncode == 0, first.stderr
    assert "2 migrated, 1 not a case file" in first.stderr
    migrated = {p.name: p.read_text() for p in tmp_path.rglob("*.yaml")}
    second = run_cli("migrate", tmp_path, "--in-place")
    assert "2 already version 2, 1 not a case file" in second.stderr
    assert {p.name: p.read_text() for p in tmp_path.rglob("*.yaml")} == migrated
    assert (tmp_path / "sub" / "rule.yaml").read_text() == rule
