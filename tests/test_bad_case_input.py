"""Each kind of bad case input gets one clear, located message, a non-zero exit and no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli

GOOD = """\
schema: 2
case_id: X
claim:
  injury_date: 2015-01-01
request_date: 2015-02-01
requested_items:
  - id: "1"
    description: Physical therapy
    service: physical_therapy
    regions: [lumbar]
    visits: 6
clinical:
  surgeries: []
"""


def variant(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def with_finding(entry: str) -> str:
    return GOOD + f"  findings:\n    - {entry}\n"


CASES: dict[str, tuple[Any, list[str]]] = {
    "malformed_yaml": ("case_id: X\nclaim: {injury_date: 2015-01-01\nrequest_date: 2015-02-01\n",
                       ["case.yaml:3: error", "malformed YAML"]),
    "duplicate_key": (GOOD + "request_date: 2015-03-01\n",
                      ["case.yaml:14: error: request_date: duplicate key 'request_date'", "first given on line 5"]),
    "version_1_file": (GOOD.replace("schema: 2\n", "").replace("regions: [lumbar]", "body_region: lumbar"),
                       ["case.yaml:1: error: schema: the case file has no 'schema: 2' line: it is a version 1 case",
                        "imr-rules migrate case.yaml --in-place"]),
    "misspelled_field": (variant("    visits: 6", "    vists: 6"),
                         ["case.yaml:11: error: requested_items[0].vists: unknown field 'vists'",
                          "did you mean 'visits'?"]),
    "unknown_top_field": (GOOD + "requestdate: 2015-02-01\n",
                          ["case.yaml:14: error: requestdate: unknown field", "did you mean 'request_date'?"]),
    "wrong_type": (variant("    visits: 6", "    visits: six"),
                   ["case.yaml:11: error: requested_items[0].visits:", "valid integer"]),
    "number_as_text": (variant("    visits: 6", "    visits: '6'"),
                       ["case.yaml:11: error: requested_items[0].visits:", "valid integer"]),
    "missing_required": (variant("request_date: 2015-02-01\n", ""),
                         ["case.yaml:1: error: request_date: required field is missing", "add 'request_date:'"]),
    "request_before_injury": (variant("request_date: 2015-02-01", "request_date: 2014-02-01"),
                              ["case.yaml:5: error: request_date: request date 2014-02-01 is before the injury"]),
    "surgery_in_future": (variant("  surgeries: []",
                                  "  surgeries: [{procedure: lumbar_fusion, region: lumbar, date: 2099-01}]"),
                          ["case.yaml:13: error: clinical.surgeries[0].date: date 2099-01 is in the future"]),
    "unknown_service": (variant("service: physical_therapy", "service: physical_therapie"),
                        ["case.yaml:9: error: requested_items[0].service: unknown service 'physical_therapie'",
                         "did you mean 'physical_therapy'?"]),
    "unknown_body_region": (variant("regions: [lumbar]", "regions: [lumber]"),
                            ["case.yaml:10: error: requested_items[0].regions[0]: unknown body region 'lumber'",
                             "did you mean 'lumbar'?"]),
    "no_requested_items": ("schema: 2\ncase_id: X\nclaim:\n  injury_date: 2015-01-01\nrequest_date: 2015-02-01\n"
                           "requested_items: []\n",
                           ["case.yaml:6: error: requested_items: is empty", "at least one requested item"]),
    "empty_file": ("", ["case.yaml:1: error: (file): file is empty"]),
    "whitespace_only": ("\n   \n", ["case.yaml:1: error: (file): file is empty"]),
    "binary_file": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,
                    ["case.yaml:1: error: (file): file is binary"]),
    "huge_file": ("case_id: X\ndescription: " + "a" * 2_100_000 + "\n",
                  ["case.yaml:1: error: (file): file is larger than the limit of 2,000,000 bytes"]),
    "not_a_mapping": ("- just\n- a list\n", ["case.yaml:1: error", "a case file must be a mapping"]),
    "duplicate_item_id": (variant("clinical:", "  - {id: \"1\", description: X-ray, service: imaging_xray, "
                                               "regions: [lumbar]}\nclinical:"),
                          ["case.yaml:12: error: requested_items[1].id: item id '1' is used twice"]),
    "unknown_concept": (with_finding("{concept: mcmurry_test, status: present, region: knee}"),
                        ["case.yaml:15: error: clinical.findings[0].concept: unknown clinical concept 'mcmurry_test'",
                         "did you mean 'mcmurray_test'?"]),
    "yes_is_not_a_status": (with_finding("{concept: muscle_spasm, status: yes, region: lumbar}"),
                            ["case.yaml:15: error: clinical.findings[0].status:"]),
    "finding_without_region": (with_finding("{concept: muscle_spasm, status: present}"),
                               ["case.yaml:15: error: clinical.findings[0].region: finding 'muscle_spasm' needs a "
                                "region",
                                "region: unknown"]),
    "concept_on_wrong_region": (with_finding("{concept: mcmurray_test, status: present, region: lumbar}"),
                                ["clinical.findings[0].region: 'mcmurray_test' is not a finding of the lumbar region",
                                 "it applies to: knee"]),
    "root_of_another_region": (with_finding("{concept: dermatomal_sensory_loss, status: present, region: lumbar, "
                                            "root: C6}"),
                               ["clinical.findings[0].root: root C6 does not serve the lumbar region"]),
    "bad_partial_date": (with_finding("{concept: muscle_spasm, status: present, region: lumbar, date: 2016-13}"),
                         ["clinical.findings[0].date:", "month 13 is out of range"]),
    "bad_icd10_code": (GOOD + "diagnoses: [{description: low back pain, icd10: M99.999}]\n",
                       ["case.yaml:14: error: diagnoses[0].icd10: 'M99.999' is not an ICD-10-CM code"]),
    "test_kind_of_another_service": (variant("    visits: 6", "    test_kind: emg"),
                                     ["requested_items[0].test_kind: test kind 'emg' is not a physical_therapy test"]),
    "ancillary_to_unknown_item": (variant("    visits: 6", "    ancillary_to: '9'"),
                                  ["requested_items[0].ancillary_to: refers to item '9', which is not requested"]),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_case_is_reported_with_file_line_and_field(kind: str, write_case: Callable[..., Path]) -> None:
    content, expected = CASES[kind]
    path = write_case(content)
    result = run_cli("evaluate", path, cwd=path.parent)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert result.stderr.rstrip().endswith("case not evaluated: " + result.stderr.count(": error:").__str__()
                                           + " error(s)")


def test_every_problem_of_a_case_is_reported_at_once(write_case: Callable[..., Path]) -> None:
    text = variant("service: physical_therapy", "service: physio").replace("regions: [lumbar]", "regions: [x]")
    path = write_case(text)
    result = run_cli("evaluate", path, cwd=path.parent)
    assert result.returncode == 3
    assert "requested_items[0].service" in result.stderr and "requested_items[0].regions[0]" in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("evaluate", tmp_path / "nope.yaml")
    assert result.returncode == 3
    assert "file not found" in result.stderr and "Traceback" not in result.stderr


def test_validate_reports_bad_cases_with_exit_3(write_case: Callable[..., Path]) -> None:
    good = write_case(GOOD, "good.yaml")
    bad = write_case(variant("regions: [lumbar]", "regions: [lumber]"), "bad.yaml")
    result = run_cli("validate", "--no-examples", "rules", good, bad)
    assert result.returncode == 3
    assert "bad.yaml:10" in result.stderr and "good.yaml" not in result.stderr


def test_a_comma_inside_braces_is_explained_even_when_a_field_name_is_close(tmp_path: Path) -> None:
    """'{description: tear, status post repair}' splits at the comma; 'status' is a field, but not the cause."""
    case = tmp_path / "comma.yaml"
    case.write_text("schema: 2\ncase_id: X\nclaim: {injury_date: 2016-01-01}\nrequest_date: 2016-11-01\n"
                    "diagnoses:\n  - {description: tear, status post repair, category: other}\n"
                    "requested_items:\n  - {id: '1', description: x, service: surgery, regions: [knee]}\n",
                    encoding="utf-8")
    done = run_cli("evaluate", case)
    assert done.returncode != 0
    assert "comma.yaml:6" in done.stderr and "a comma ends the value" in done.stderr
