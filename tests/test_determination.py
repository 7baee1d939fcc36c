"""Determination documents (Markdown, HTML, PDF), decision record ids, replay, and JSON Lines batches."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from imr_rules.cases.reader import parse_case, read_case
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.review.determination import record_id, render_document, render_pdf
from tools.synthetic import synthetic_case

from .conftest import ROOT, RULES, SEEDS, run_cli

SEED = SEEDS / "seed-000-cervical-fusion.yaml"


def test_markdown_and_html_read_like_a_determination() -> None:
    case = read_case(SEED)
    result = evaluator(RULES).evaluate(case)
    markdown = render_document(case, result, "markdown")
    assert "## IMR issues, decisions and rationales" in markdown
    assert "### Physical therapy 3x6 for the cervical spine: Upheld" in markdown
    assert "**Guideline:** Decision based on MTUS Chronic Pain Medical Treatment Guidelines (2009)" in markdown
    assert "Page(s): 98-99" in markdown and "**Decision rationale:**" in markdown
    html = render_document(case, result, "html")
    assert html.startswith("<!DOCTYPE html>") and "IMR ISSUES, DECISIONS AND RATIONALES" in html
    assert render_document(case, result, "html") == html


def test_pdf_is_rendered_and_byte_identical_twice(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    assert run_cli("evaluate", SEED, "--format", "pdf", "--output", first).returncode == 0
    time.sleep(1.1)  # fontTools stamps the clock, to the second, into subset fonts unless told otherwise
    assert run_cli("evaluate", SEED, "--format", "pdf", "--output", second).returncode == 0
    data = first.read_bytes()
    assert data.startswith(b"%PDF-") and data == second.read_bytes()
    assert data.rstrip().endswith(b"%%EOF")
    case = read_case(SEED)
    assert render_pdf(case, evaluator(RULES).evaluate(case)) == data


_RENDER_IN_A_PROCESS = """
import sys
from pathlib import Path
if sys.argv[2] == "fonttools":
    import weasyprint.pdf.fonts as fonts
    fonts.harfbuzz_subset = None  # the path taken on machines without libharfbuzz-subset0
from imr_rules.cases.reader import read_case
from imr_rules.review.determination import render_pdf
from imr_rules.engine.knowledge_base import evaluator
case = read_case(Path(sys.argv[1]))
sys.stdout.buffer.write(render_pdf(case, evaluator(Path(sys.argv[3])).evaluate(case)))
"""


def test_pdf_bytes_do_not_depend_on_the_clock_on_either_font_subsetter() -> None:
    for subsetter in ("default", "fonttools"):
        renders = []
        for attempt in range(2):
            if attempt:
                time.sleep(1.1)
            done = subprocess.run([sys.executable, "-c", _RENDER_IN_A_PROCESS, str(SEED), subsetter, str(RULES)],
                                  capture_output=True, check=True)
            renders.append(done.stdout)
        assert renders[0].startswith(b"%PDF-") and renders[0] == renders[1], subsetter


def test_record_id_depends_on_case_rules_and_engine() -> None:
    case = read_case(SEED)
    same = record_id(case, "r1", "e1")
    assert same == record_id(read_case(SEED), "r1", "e1")
    assert same != record_id(case, "r2", "e1") != record_id(case, "r1", "e2")
    changed = parse_case({**case.as_data(), "request_date": "2015-03-28"})
    assert record_id(changed, "r1", "e1") != same


def test_replay_reproduces_a_record_and_reports_a_changed_rule_base(tmp_path: Path, rules_copy: Path) -> None:
    record = tmp_path / "record.json"
    assert run_cli("evaluate", SEED, "--format", "json", "--output", record).returncode == 0
    data = json.loads(record.read_text())
    assert len(data["record_id"]) == 20 and data["case"]["case_id"] == "SEED-000"
    same = run_cli("replay", record)
    assert same.returncode == 0 and same.stdout.startswith(f"reproduced: record {data['record_id']}")
    rule = rules_copy / "imaging" / "cervical_xray_acoem_2004.yaml"
    text = rule.read_text()
    assert "red_flag.any is present" in text
    rule.write_text(text.replace("  overturned: >", "  overturned: >\n    Revised.", 1)
                    .replace("  not_documented: >\n    Under", "  not_documented: >\n    Revised. Under", 1))
    changed = run_cli("replay", record, "--rules", rules_copy)
    assert changed.returncode == 6, changed.stdout
    assert "record id" in changed.stdout and "not reproduced:" in changed.stdout
    assert "item 2: rationale" in changed.stdout


def test_batch_of_a_thousand_cases_with_malformed_lines() -> None:
    rng = random.Random(7)
    lines = [json.dumps(synthetic_case(i, rng)) for i in range(1000)]
    bad = {17: "{not json", 404: json.dumps({"schema": 2, "case_id": "X"}), 777: "[1, 2]",
           900: json.dumps({**json.loads(lines[899]), "request_date": "1999-01-01"})}
    for number, text in bad.items():
        lines[number - 1] = text
    completed = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", "-"], input="\n".join(lines) + "\n",
                               capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert completed.returncode == 3, completed.stderr
    *records, end = [json.loads(line) for line in completed.stdout.splitlines()]
    assert end == {"end_of_batch": True, "answered": 1000, "ok": 996, "failed": 4}
    assert [r["line"] for r in records] == list(range(1, 1001))
    failed = {r["line"]: r for r in records if not r["ok"]}
    assert set(failed) == set(bad)
    assert "not valid JSON" in failed[17]["errors"][0]["message"]
    assert any(e["field"] == "claim" for e in failed[404]["errors"])
    assert "before the injury date" in failed[900]["errors"][0]["message"]
    good = [r for r in records if r["ok"]]
    assert len(good) == 996 and all(r["result"]["items"] and r["result"]["record_id"] for r in good)
