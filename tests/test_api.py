"""The Python API: the README example runs; a case as a path, data or model gives one result; threads share it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imr_rules.api import Case, CaseResult, Evaluation, InputError, KnowledgeBase, render
from imr_rules.cases.reader import read_case

from .conftest import ROOT, SEEDS, load

SEED = SEEDS / "seed-001-lumbar-pt.yaml"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^## Python API\n.*?```python\n(.*?)```", readme, re.S | re.M)
    assert found, "README has a Python API section with a python example"
    return found.group(1)


def test_readme_example_runs() -> None:
    done = subprocess.run([sys.executable, "-c", _readme_example()], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "1 Upheld CPMTG09-PM 98-99"
    assert "draft determination" in done.stdout
    assert "claim: required field is missing" in done.stdout


def test_load_is_built_once(kb: KnowledgeBase) -> None:
    again = KnowledgeBase.load()
    assert again.engine is kb.engine
    assert kb.version == again.version


def test_path_data_and_model_give_the_same_result(kb: KnowledgeBase) -> None:
    from_path = kb.evaluate(SEED)
    from_text_path = kb.evaluate(str(SEED))
    from_data = kb.evaluate(load(SEED))
    from_model = kb.evaluate(read_case(SEED))
    assert isinstance(from_path.result, CaseResult)
    assert isinstance(from_model.case, Case)
    records = [e.record() for e in (from_path, from_text_path, from_data, from_model)]
    assert all(r == records[0] for r in records)
    assert from_path.items[0].decision == "Upheld"


def test_render_matches_the_command_line(kb: KnowledgeBase) -> None:
    evaluation = kb.evaluate(SEED)
    for fmt in ("text", "json", "markdown", "html"):
        done = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", str(SEED), "-f", fmt],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.stdout == render(evaluation, fmt), fmt
    assert json.loads(render(evaluation, "json")) == evaluation.record()
    with pytest.raises(ValueError, match="unknown format"):
        render(evaluation, "docx")  # type: ignore[arg-type]


def test_explain_is_typed_and_serialisable(kb: KnowledgeBase) -> None:
    explanation = kb.explain(SEED)
    record = explanation.record()
    assert [i.item.item_id for i in record.items] == ["1"]
    data = explanation.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["items"][0]["what_would_change"] is not None
    assert explanation.text().startswith("Case SEED-001")
    with pytest.raises(InputError, match="no requested item"):
        kb.explain(SEED, item="99")


def test_bad_case_data_lists_every_problem(kb: KnowledgeBase) -> None:
    data = load(SEED)
    data["requested_items"][0]["service"] = "no_such_service"
    del data["claim"]
    with pytest.raises(InputError) as caught:
        kb.evaluate(data)
    fields = {d.field for d in caught.value.diagnostics}
    assert "claim" in fields
    assert all(d.file == "<case>" for d in caught.value.diagnostics)
    with pytest.raises(InputError, match="not a case"):
        kb.case(42)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        kb.evaluate(Path("no/such/case.yaml"))


def test_bad_rule_base_raises_on_load(rules_copy: Path) -> None:
    (rules_copy / "guidelines.yaml").write_text("guidelines: [oops\n")
    with pytest.raises(InputError):
        KnowledgeBase.load(rules_copy)


def test_threads_share_one_knowledge_base(kb: KnowledgeBase) -> None:
    seeds = sorted(SEEDS.glob("*.yaml"))
    expected = {path.name: kb.evaluate(path).record() for path in seeds}
    jobs = [path for _ in range(4) for path in seeds]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda path: (path.name, kb.evaluate(load(path)).record()), jobs))
    assert len(got) == len(jobs)
    assert all(record == expected[name] for name, record in got)


def test_evaluation_is_the_case_and_its_result(kb: KnowledgeBase) -> None:
    evaluation = kb.evaluate(SEED)
    assert isinstance(evaluation, Evaluation)
    assert evaluation.items is evaluation.result.items
    assert {r.id for r in kb.rules()} == {t.id for t in kb.engine.rule_base.topics}
