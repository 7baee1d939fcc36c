"""Each kind of bad case input gets one clear, located message, a non-zero exit and no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli

GOOD = """\
case_id: X
claim:
  injury_date: 2015-01-01
request_date: 2015-02-01
requested_items:
  - id: "1"
    description: Physical therapy
    service: physical_therapy
    body_region: lumbar
    visits: 6
clinical:
  surgeries: []
"""


def variant(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


CASES: dict[str, tuple[Any, list[str]]] = {
    "malformed_yaml": ("case_id: X\nclaim: {injury_date: 2015-01-01\nrequest_date: 2015-02-01\n",
                       ["case.yaml:3: error", "malformed YAML"]),
    "duplicate_key": (GOOD + "request_date: 2015-03-01\n",
                      ["case.yaml:13: error: request_date: duplicate key 'request_date'", "first given on line 4"]),
    "misspelled_field": (variant("    visits: 6", "    vists: 6"),
                         ["case.yaml:10: error: requested_items[0].vists: unknown field 'vists'",
                          "did you mean 'visits'?"]),
    "unknown_top_field": (GOOD + "requestdate: 2015-02-01\n",
                          ["case.yaml:13: error: requestdate: unknown field", "did you mean 'request_date'?"]),
    "wrong_type": (variant("    visits: 6", "    visits: six"),
                   ["case.yaml:10: error: requested_items[0].visits:", "valid integer"]),
    "missing_required": (variant("request_date: 2015-02-01\n", ""),
                         ["case.yaml:1: error: request_date: required field is missing", "add 'request_date:'"]),
    "request_before_injury": (variant("request_date: 2015-02-01", "request_date: 2014-02-01"),
                              ["case.yaml:4: error: request_date: request date 2014-02-01 is before the injury"]),
    "surgery_in_future": (variant("  surgeries: []",
                                  "  surgeries: [{procedure: lumbar_fusion, body_region: lumbar, date: 2099-01-01}]"),
                          ["case.yaml:12: error: clinical.surgeries[0].date: date 2099-01-01 is in the future"]),
    "unknown_service": (variant("service: physical_therapy", "service: physical_therapie"),
                        ["case.yaml:8: error: requested_items[0].service: unknown service 'physical_therapie'",
                         "did you mean 'physical_therapy'?"]),
    "unknown_body_region": (variant("body_region: lumbar", "body_region: lumber"),
                            ["case.yaml:9: error: requested_items[0].body_region: unknown body region 'lumber'",
                             "did you mean 'lumbar'?"]),
    "no_requested_items": ("case_id: X\nclaim:\n  injury_date: 2015-01-01\nrequest_date: 2015-02-01\n"
                           "requested_items: []\n",
                           ["case.yaml:5: error: requested_items: is empty", "at least one requested item"]),
    "empty_file": ("", ["case.yaml:1: error: (file): file is empty"]),
    "whitespace_only": ("\n   \n", ["case.yaml:1: error: (file): file is empty"]),
    "binary_file": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,
                    ["case.yaml:1: error: (file): file is binary"]),
    "huge_file": ("case_id: X\ndescription: " + "a" * 2_100_000 + "\n",
                  ["case.yaml:1: error: (file): file is 2,100,0", "the limit is 2,000,000"]),
    "not_a_mapping": ("- just\n- a list\n", ["case.yaml:1: error", "a case file must be a mapping"]),
    "duplicate_item_id": (variant("clinical:", "  - {id: \"1\", description: X-ray, service: imaging_xray, "
                                               "body_region: lumbar}\nclinical:"),
                          ["case.yaml:11: error: requested_items[1].id: item id '1' is used twice"]),
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
    text = variant("service: physical_therapy", "service: physio").replace("body_region: lumbar", "body_region: x")
    path = write_case(text)
    result = run_cli("evaluate", path, cwd=path.parent)
    assert result.returncode == 3
    assert "requested_items[0].service" in result.stderr and "requested_items[0].body_region" in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("evaluate", tmp_path / "nope.yaml")
    assert result.returncode == 3
    assert "file not found" in result.stderr and "Traceback" not in result.stderr


def test_validate_reports_bad_cases_with_exit_3(write_case: Callable[..., Path]) -> None:
    good = write_case(GOOD, "good.yaml")
    bad = write_case(variant("body_region: lumbar", "body_region: lumber"), "bad.yaml")
    result = run_cli("validate", "--no-examples", "rules", good, bad)
    assert result.returncode == 3
    assert "bad.yaml:9" in result.stderr and "good.yaml" not in result.stderr
