"""Output JSON Schemas: generated from the models, published in docs/schemas/, and real outputs validate."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from imr_rules.api import KnowledgeBase
from imr_rules.api.schemas import OUTPUTS, output_schema
from imr_rules.regression.results_json import regression_json, regression_record
from imr_rules.regression.runner import case_files, run_files
from imr_rules.review.batch import evaluate_stream

from .conftest import ROOT, SEEDS, load, run_cli

PUBLISHED = ROOT / "docs" / "schemas"
HISTORICAL = ROOT / "cases" / "historical"


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((PUBLISHED / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _errors(name: str, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}"[:300] for e in _validator(name).iter_errors(document)]


@pytest.mark.parametrize("name", OUTPUTS)
def test_published_schemas_are_up_to_date(name: str) -> None:
    published = json.loads((PUBLISHED / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert published == output_schema(name), f"regenerate: imr-rules schema {name} > docs/schemas/{name}.schema.json"


def _all_cases() -> list[Path]:
    return sorted(SEEDS.glob("*.yaml")) + sorted(HISTORICAL.glob("*.yaml"))


def test_every_seed_and_historical_decision_record_validates() -> None:
    kb = KnowledgeBase.load()
    paths = _all_cases()
    assert len(paths) > 100
    problems = {p.name: e for p in paths if (e := _errors("evaluation", kb.evaluate(p).record()))}
    assert problems == {}


def test_explanations_validate() -> None:
    kb = KnowledgeBase.load()
    paths = sorted(SEEDS.glob("*.yaml")) + sorted(HISTORICAL.glob("*.yaml"))[:12]
    problems = {p.name: e for p in paths if (e := _errors("explanation", kb.explain(p).to_json()))}
    assert problems == {}


def test_cli_outputs_validate() -> None:
    seed = SEEDS / "seed-000-cervical-fusion.yaml"
    assert _errors("evaluation", json.loads(run_cli("evaluate", seed, "-f", "json").stdout)) == []
    assert _errors("explanation", json.loads(run_cli("explain", seed, "-f", "json").stdout)) == []
    regress = run_cli("regress", "cases/seeds", "-f", "json")
    assert _errors("regression", json.loads(regress.stdout)) == []


def test_batch_lines_validate_results_errors_and_trailer() -> None:
    kb = KnowledgeBase.load()
    good = [json.dumps(load(p), default=str) for p in sorted(SEEDS.glob("*.yaml"))]
    bad = ["{not json", json.dumps({"schema": 2, "case_id": "X"}), "[1, 2]", "\xff"]
    source = io.BytesIO("\n".join(good + bad).encode("utf-8", "surrogateescape") + b"\n\xff\xfe\n")
    sink = io.StringIO()
    evaluate_stream(source, sink, kb.engine)
    lines = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert [line.get("ok") for line in lines[:-1]] == [True] * len(good) + [False] * (len(bad) + 1)
    assert lines[-1]["end_of_batch"] is True
    problems = {n: e for n, line in enumerate(lines) if (e := _errors("batch", line))}
    assert problems == {}


def test_regression_record_of_the_historical_cases_validates() -> None:
    results = run_files(case_files([HISTORICAL, SEEDS]), None, 1)
    import datetime as dt

    record = regression_json(regression_record(results, None, KnowledgeBase.load().version, dt.date.today(), True))
    assert record["figures"]["all"]["items"] > 200
    assert record["disagreements"]
    assert _errors("regression", record) == []


def test_schemas_reject_a_field_they_do_not_know() -> None:
    record = KnowledgeBase.load().evaluate(SEEDS / "seed-000-cervical-fusion.yaml").record()
    record["items"][0]["surprise"] = 1
    assert _errors("evaluation", record)
    del record["items"][0]["surprise"]
    record["items"][0]["decision"] = "Maybe"
    assert _errors("evaluation", record)
