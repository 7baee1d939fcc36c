"""The FastAPI application of ``imr-rules serve``: bounded bodies, a worker-process pool, located 4xx errors.

``create_app`` imports FastAPI only when called, so the core install never needs it. (No postponed
annotations here: FastAPI reads the endpoints' annotations, which name classes imported inside ``create_app``.)
"""

import asyncio
import hmac
import io
import json
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imr_rules.api.schemas import BatchLine, DecisionRecord
from imr_rules.common.diagnostics import Diagnostic
from imr_rules.common.extras import needs_extra
from imr_rules.common.yaml_source import MAX_BYTES
from imr_rules.regression.results_json import InputProblem
from imr_rules.review.batch import read_lines, trailer
from imr_rules.review.explanation import ExplanationRecord
from imr_rules.service import workers

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

API_KEY_HEADER = "X-API-Key"
BATCH_CHUNK = 32
"""Batch lines sent to a worker at a time."""


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs: rules, worker processes, bounds, timeouts and the optional API key."""

    rules_dir: Path | None = None
    workers: int = 2
    max_body_bytes: int = MAX_BYTES
    """Largest body of ``/evaluate`` and ``/explain`` (the size limit of a case file)."""
    max_batch_bytes: int = 64_000_000
    timeout_seconds: float = 30.0
    """Longest a single case may take; the batch gets this per chunk of ``BATCH_CHUNK`` lines."""
    api_key: str | None = field(default=None, repr=False)


class RequestRefusedError(Exception):
    """A request refused before any case is read (size, auth, worker pool): status and one message."""

    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint

    def body(self) -> dict[str, Any]:
        """The JSON body, in the shape of every 4xx/5xx answer."""
        return workers.diagnostics_body([Diagnostic(workers.REQUEST_NAME, None, "", self.message, self.hint)])


class WorkerPool:
    """The worker processes; a pool broken by a crashed worker is replaced and the request answered 503."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.executor: Executor = self._start()

    def _start(self) -> Executor:
        rules = str(self.settings.rules_dir) if self.settings.rules_dir else None
        return ProcessPoolExecutor(self.settings.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=workers.start_worker, initargs=(rules,))

    async def run(self, timeout: float, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker; 504 past ``timeout`` seconds, 503 if the pool broke."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.executor, function, *args), timeout)
        except TimeoutError:
            raise RequestRefusedError(504, f"evaluation took longer than {timeout:g} s",
                                 "a case this slow is unusual: send it to the maintainers") from None
        except BrokenProcessPool:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self._start()
            raise RequestRefusedError(503, "a worker process failed; the pool was restarted", "retry the request") \
                from None

    def close(self) -> None:
        """Stop the worker processes."""
        self.executor.shutdown(wait=True, cancel_futures=True)


async def read_body(request: "Request", limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (declared or actual) without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestRefusedError(413, f"the body is {int(declared):,} bytes; the limit is {limit:,}",
                             "send one case per request, or split the batch")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRefusedError(413, f"the body is over the limit of {limit:,} bytes",
                                 "send one case per request, or split the batch")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_key(request: "Request", expected: str | None) -> None:
    if expected is None:
        return
    given = request.headers.get(API_KEY_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise RequestRefusedError(401, f"missing or wrong API key ({API_KEY_HEADER} header)",
                             f"send the key in the {API_KEY_HEADER} header")


def _chunks(lines: list[tuple[int, bytes | None]]) -> list[list[tuple[int, bytes | None]]]:
    return [lines[start:start + BATCH_CHUNK] for start in range(0, len(lines), BATCH_CHUNK)]


def _timed_out(chunk: list[tuple[int, bytes | None]], problem: RequestRefusedError) -> list[dict[str, Any]]:
    return [{"line": number, "ok": False, "errors": [{"line": number, "field": "", "message": problem.message,
                                                      "hint": problem.hint}]} for number, _ in chunk]


async def _batch(pool: WorkerPool, body: bytes, timeout: float) -> str:
    lines = [(n, raw) for n, raw in read_lines(io.BytesIO(body)) if raw is None or raw.strip()]
    chunks = _chunks(lines)

    async def answer(chunk: list[tuple[int, bytes | None]]) -> list[dict[str, Any]]:
        try:
            result: list[dict[str, Any]] = await pool.run(timeout, workers.batch_lines, chunk)
            return result
        except RequestRefusedError as problem:  # those lines get an error record; the batch goes on
            return _timed_out(chunk, problem)

    answered = [record for part in await asyncio.gather(*(answer(c) for c in chunks)) for record in part]
    failed = sum(1 for record in answered if not record["ok"])
    records = [*answered, trailer(len(answered), failed)]
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": what, "model": dict[str, list[InputProblem]]} for status, what in (
        (400, "the body is not UTF-8 JSON, or nested too deep"), (401, "API key missing or wrong"),
        (413, "the body is over the size limit"), (422, "the case is not valid: every problem, located"),
        (503, "a worker failed; retry"), (504, "evaluation timed out"))}
CASE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "One case, format version 2 (docs/case.schema.json, imr-rules schema)."}}}}}


def create_app(settings: ServiceSettings | None = None) -> "FastAPI":
    """The service's FastAPI app; its lifespan starts and stops the worker pool."""
    with needs_extra("service"):
        from fastapi import Depends, FastAPI, Query, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse, Response
    config = settings or ServiceSettings()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(config)
        state["pool"] = pool
        try:
            await asyncio.gather(*(pool.run(120.0, workers.ping) for _ in range(config.workers)))
            state["info"] = await pool.run(120.0, workers.service_info)
            yield
        finally:
            pool.close()

    app = FastAPI(title="imr-rules", version=_version(), lifespan=lifespan,
                  description="MTUS medical-necessity decision support for California IMR (docs/service.md). "
                              "Decision support only: a physician reviewer makes the determination.")

    def authorised(request: Request) -> None:
        _check_key(request, config.api_key)

    @app.exception_handler(RequestRefusedError)
    async def refused(_: Request, problem: RequestRefusedError) -> JSONResponse:
        return JSONResponse(problem.body(), status_code=problem.status)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [Diagnostic(workers.REQUEST_NAME, None, ".".join(map(str, e.get("loc", ()))),
                                       str(e.get("msg", "invalid")), "") for e in exc.errors()]
        return JSONResponse(workers.diagnostics_body(problems), status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(RequestRefusedError(500, f"internal error: {type(exc).__name__}").body(), status_code=500)

    def reply(answer: tuple[int, dict[str, Any]]) -> JSONResponse:
        status, body = answer
        return JSONResponse(body, status_code=status)

    @app.post("/evaluate", dependencies=[Depends(authorised)], openapi_extra=CASE_BODY,
              responses={200: {"model": DecisionRecord, "description": "the decision record"}, **ERROR_RESPONSES})
    async def evaluate(request: Request) -> JSONResponse:
        """Decide every requested item of one case (JSON); the answer is the decision record."""
        body = await read_body(request, config.max_body_bytes)
        return reply(await state["pool"].run(config.timeout_seconds, workers.evaluate_request, body))

    @app.post("/explain", dependencies=[Depends(authorised)], openapi_extra=CASE_BODY,
              responses={200: {"model": ExplanationRecord, "description": "the explanation"}, **ERROR_RESPONSES})
    async def explain(request: Request, item: str | None = Query(None, max_length=200)) -> JSONResponse:
        """Why each item (or ``item``) came out as it did, and what would change the decision."""
        body = await read_body(request, config.max_body_bytes)
        return reply(await state["pool"].run(config.timeout_seconds, workers.explain_request, body, item))

    @app.post("/evaluate/batch", dependencies=[Depends(authorised)],
              openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {
                  "type": "string", "description": "JSON Lines: one case (JSON object) per line"}}}}},
              responses={200: {"description": "JSON Lines: one record per input line, then the trailer "
                                              "(docs/schemas/batch.schema.json)",
                               "content": {"application/x-ndjson": {}}, "model": BatchLine}, **ERROR_RESPONSES})
    async def evaluate_batch(request: Request) -> Response:
        """Evaluate JSON Lines cases; each line is answered on its own (an error record for a bad line)."""
        body = await read_body(request, config.max_batch_bytes)
        return Response(await _batch(state["pool"], body, config.timeout_seconds),
                        media_type="application/x-ndjson")

    @app.get("/rules", dependencies=[Depends(authorised)])
    async def rules() -> JSONResponse:
        """The rule base version and its topic rules (id, topic, guideline, period, citation, services)."""
        return JSONResponse(state["info"])

    @app.get("/health")
    async def health() -> JSONResponse:
        """The service answers and a worker evaluates (no API key needed)."""
        await state["pool"].run(10.0, workers.ping)
        info = state["info"]
        return JSONResponse({"status": "ok", "rule_base_version": info["rule_base_version"],
                             "engine_version": info["engine_version"], "workers": config.workers})

    return app


def _version() -> str:
    from imr_rules import __version__

    return __version__


def settings_from_environment(rules_dir: Path | None, worker_count: int, timeout: float, api_key_env: str,
                              max_body_bytes: int = MAX_BYTES) -> ServiceSettings:
    """Settings of ``imr-rules serve``: the API key, if any, is read from the environment variable named."""
    key = os.environ.get(api_key_env) or None
    return ServiceSettings(rules_dir, worker_count, max_body_bytes, timeout_seconds=timeout, api_key=key)


def serve(settings: ServiceSettings, host: str, port: int) -> None:
    """Run the service with uvicorn until interrupted."""
    with needs_extra("service"):
        import uvicorn
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
