"""What the service's worker processes run: each builds the knowledge base once, then answers requests.

Every function takes and returns plain data (it crosses a process boundary) and never raises for
anything a request holds: a bad request comes back as ``(status, body)`` with located diagnostics.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from imr_rules.api import InputError, KnowledgeBase
from imr_rules.common.diagnostics import Diagnostic
from imr_rules.engine.durable_adapter import EngineError
from imr_rules.review.batch import answer_line, case_data

Reply = tuple[int, dict[str, Any]]
REQUEST_NAME = "<request>"
"""The file name diagnostics give for a request body."""

_KB: KnowledgeBase | None = None


def start_worker(rules_dir: str | None) -> None:
    """Process pool initializer: build the knowledge base once in this worker and register every ruleset."""
    global _KB
    _KB = KnowledgeBase.load(Path(rules_dir) if rules_dir else None)
    _KB.engine.knowledge_base.register_all()


def _kb() -> KnowledgeBase:
    if _KB is None:  # run outside a pool (tests, a single process): build it here
        start_worker(None)
    assert _KB is not None
    return _KB


def diagnostics_body(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The body of a 4xx answer: every problem, located as the command line prints it."""
    return {"errors": [{"file": d.file, "line": d.line, "field": d.field, "message": d.message, "hint": d.hint,
                        "text": d.render()} for d in diagnostics if d.severity == "error"]}


def _failure(status: int, message: str, hint: str = "") -> Reply:
    return status, diagnostics_body([Diagnostic(REQUEST_NAME, None, "", message, hint)])


def _run(body: bytes, item: str | None, explain: bool) -> Reply:
    kb = _kb()
    try:
        data = case_data(1, body, REQUEST_NAME)
    except InputError as exc:
        return 400, diagnostics_body(exc.diagnostics)
    if not isinstance(data, dict):
        return _failure(422, "the body must be one case as a JSON object", "send the case as a JSON object")
    try:
        case = kb.case(data, REQUEST_NAME)
        if explain:
            return 200, kb.explain(case, item, REQUEST_NAME).to_json()
        return 200, kb.evaluate(case).record()
    except InputError as exc:
        return 422, diagnostics_body(exc.diagnostics)
    except EngineError as exc:
        return _failure(500, f"engine error: {exc}", "report this case")
    except (RecursionError, MemoryError) as exc:
        return _failure(422, f"case too large to evaluate ({type(exc).__name__})")
    except Exception as exc:  # a request must never take the worker down or leak a traceback
        return _failure(500, f"internal error: {type(exc).__name__}: {exc}", "report this case")


def evaluate_request(body: bytes) -> Reply:
    """``POST /evaluate``: the decision record of the case in ``body`` (JSON), or located errors."""
    return _run(body, None, explain=False)


def explain_request(body: bytes, item: str | None) -> Reply:
    """``POST /explain``: the explanation of the case in ``body`` (JSON), or located errors."""
    return _run(body, item, explain=True)


def batch_lines(lines: list[tuple[int, bytes | None]]) -> list[dict[str, Any]]:
    """``POST /evaluate/batch``: one output record per (non-blank) line, as ``imr-rules evaluate -`` gives."""
    kb = _kb()
    return [answer_line(number, raw, kb.engine, REQUEST_NAME) for number, raw in lines]


def service_info() -> dict[str, Any]:
    """What ``GET /rules`` and ``GET /health`` report: versions and the rule catalogue."""
    kb = _kb()
    from imr_rules import __version__

    return {"rule_base_version": kb.version, "engine_version": __version__,
            "rules": [asdict(rule) for rule in kb.rules()]}


def ping() -> bool:
    """A worker answers (``GET /health`` checks the pool with it)."""
    return _kb() is not None
