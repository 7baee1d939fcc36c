"""The HTTP service (FastAPI TestClient): every endpoint, bad input as located 4xx, API key, timeouts, workers."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from imr_rules.api import KnowledgeBase
from imr_rules.api.schemas import output_schema

from .conftest import SEEDS, load

pytest.importorskip("fastapi")  # the dev extra installs it; only a core install skips these
from fastapi.testclient import TestClient

from imr_rules.service.app import RequestRefusedError, ServiceSettings, WorkerPool, create_app

SEED = SEEDS / "seed-001-lumbar-pt.yaml"


def _json(path: Any) -> str:
    return json.dumps(load(path), default=str)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(ServiceSettings(workers=2)), raise_server_exceptions=False) as test_client:
        yield test_client


def _valid(name: str, document: Any) -> bool:
    jsonschema.validate(document, output_schema(name), cls=jsonschema.Draft202012Validator)
    return True


def test_health_and_rules(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    rules = client.get("/rules").json()
    kb = KnowledgeBase.load()
    assert rules["rule_base_version"] == kb.version == health.json()["rule_base_version"]
    assert {r["id"] for r in rules["rules"]} == {t.id for t in kb.engine.rule_base.topics}


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/evaluate", "/explain", "/evaluate/batch", "/rules", "/health"}
    assert "422" in spec["paths"]["/evaluate"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_evaluate_gives_the_decision_record_of_the_api(client: TestClient) -> None:
    kb = KnowledgeBase.load()
    for path in sorted(SEEDS.glob("*.yaml")):
        answer = client.post("/evaluate", content=_json(path), headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == json.loads(json.dumps(kb.evaluate(path).record()))
        assert _valid("evaluation", answer.json())


@pytest.mark.parametrize(("body", "status", "where"), [
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe{}", 400, "not UTF-8"),
    (b"[" * 500 + b"]" * 500, 400, "nested more than"),
    (b"[1, 2]", 422, "one case as a JSON object"),
    (b'{"schema": 2, "case_id": "X"}', 422, "required field is missing"),
    (b'{"case_id": "X"}', 422, "version 1 case"),
    (b"", 400, "not valid JSON"),
])
def test_bad_bodies_are_located_4xx(client: TestClient, body: bytes, status: int, where: str) -> None:
    answer = client.post("/evaluate", content=body)
    assert answer.status_code == status
    errors = answer.json()["errors"]
    assert errors and any(where in e["message"] for e in errors)
    assert all(e["file"] == "<request>" and e["text"].startswith("<request>") for e in errors)
    assert "Traceback" not in answer.text


def test_invalid_case_lists_every_problem_like_the_cli(client: TestClient) -> None:
    data = load(SEED)
    del data["claim"]
    data["requested_items"][0]["service"] = "no_such_service"
    answer = client.post("/evaluate", content=json.dumps(data, default=str))
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert "claim" in fields
    assert all(e["hint"] for e in answer.json()["errors"])


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = b'{"x": "' + b"a" * 2_100_000 + b'"}'
    answer = client.post("/evaluate", content=big)
    assert answer.status_code == 413
    assert "limit" in answer.json()["errors"][0]["message"]


def test_explain_all_items_and_one(client: TestClient) -> None:
    answer = client.post("/explain", content=_json(SEED))
    assert answer.status_code == 200
    assert _valid("explanation", answer.json())
    one = client.post("/explain", params={"item": "1"}, content=_json(SEED))
    assert [i["item"]["item_id"] for i in one.json()["items"]] == ["1"]
    missing = client.post("/explain", params={"item": "9"}, content=_json(SEED))
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "item"


def test_batch_answers_every_line_in_order(client: TestClient) -> None:
    seeds = sorted(SEEDS.glob("*.yaml"))
    lines = [_json(p) for p in seeds] + ["{bad", "", '{"schema": 2}'] + [_json(p) for p in seeds] * 20
    answer = client.post("/evaluate/batch", content="\n".join(lines).encode() + b"\n")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in answer.text.splitlines()]
    assert records[-1] == {"end_of_batch": True, "answered": len(lines) - 1, "ok": len(lines) - 3, "failed": 2}
    numbers = [r["line"] for r in records[:-1]]
    assert numbers == [n for n, text in enumerate(lines, 1) if text.strip()]
    by_line = {r["line"]: r for r in records[:-1]}
    for number, text in enumerate(lines, 1):
        if text.strip() and by_line[number]["ok"]:
            assert by_line[number]["result"]["case_id"] == json.loads(text)["case_id"]
    assert all(_valid("batch", r) for r in records)


def test_unknown_route_and_bad_parameter_are_4xx_json(client: TestClient) -> None:
    assert client.get("/nothing").status_code == 404
    long_item = client.post("/explain", params={"item": "x" * 300}, content=_json(SEED))
    assert long_item.status_code == 422
    assert "errors" in long_item.json()


def test_api_key_is_required_when_set() -> None:
    with TestClient(create_app(ServiceSettings(workers=1, api_key="s3cret"))) as keyed:
        assert keyed.post("/evaluate", content=_json(SEED)).status_code == 401
        assert keyed.post("/evaluate", content=_json(SEED), headers={"X-API-Key": "wrong"}).status_code == 401
        assert keyed.get("/rules").status_code == 401
        assert keyed.post("/evaluate", content=_json(SEED), headers={"X-API-Key": "s3cret"}).status_code == 200
        assert keyed.get("/health").status_code == 200


def test_a_case_over_the_timeout_is_504_and_a_batch_line_an_error() -> None:
    with TestClient(create_app(ServiceSettings(workers=1, timeout_seconds=0))) as slow:  # 0: always times out
        answer = slow.post("/evaluate", content=_json(SEED))
        assert answer.status_code == 504
        batch = slow.post("/evaluate/batch", content=(_json(SEED) + "\n").encode())
        records = [json.loads(line) for line in batch.text.splitlines()]
        assert records[0]["ok"] is False and "longer than" in records[0]["errors"][0]["message"]
        assert records[-1]["failed"] == 1


def test_a_crashed_worker_gives_503_and_the_pool_is_restarted() -> None:
    pool = WorkerPool(ServiceSettings(workers=1))

    async def scenario() -> Any:
        with pytest.raises(RequestRefusedError) as refused:
            await pool.run(60, os._exit, 3)
        assert refused.value.status == 503
        from imr_rules.service import workers

        return await pool.run(60, workers.ping)

    try:
        assert asyncio.run(scenario()) is True
    finally:
        pool.close()
