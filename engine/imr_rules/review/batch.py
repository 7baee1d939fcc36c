"""Batch pre-screening: JSON Lines in, JSON Lines out, one result (or error list) per input line."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from imr_rules.cases.reader import case_from_document
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.yaml_source import MAX_BYTES, SourceDocument
from imr_rules.engine.durable_adapter import EngineError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.review.determination import decision_record


def _document(line_number: int, data: Any, stream_name: str) -> SourceDocument:
    return SourceDocument(path=Path(stream_name), data=data, lines={(): line_number})


def evaluate_lines(lines: Iterable[str], evaluator: Evaluator,
                   stream_name: str = "<stdin>") -> Iterable[dict[str, Any]]:
    """One output record per non-blank input line: ``{"line", "ok", "result"}`` or ``{"line", "ok", "errors"}``."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if len(line) > MAX_BYTES:
                raise InputError([Diagnostic(stream_name, number, "(line)", "line is longer than the size limit")])
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError([Diagnostic(stream_name, number, "(line)", f"not valid JSON: {exc.msg}",
                                             "each line must be one case as a JSON object")]) from None
            case = case_from_document(_document(number, data, stream_name),
                                      vocabulary=evaluator.compiled.rule_base.vocabulary)
            yield {"line": number, "ok": True, "result": decision_record(case, evaluator.evaluate(case))}
        except InputError as exc:
            yield {"line": number, "ok": False, "errors": [_error(d, number) for d in exc.diagnostics]}
        except EngineError as exc:
            yield {"line": number, "ok": False, "errors": [{"line": number, "field": "", "message": str(exc)}]}


def _error(diagnostic: Diagnostic, number: int) -> dict[str, Any]:
    return {"line": number, "field": diagnostic.field, "message": diagnostic.message, "hint": diagnostic.hint}


def evaluate_stream(source: IO[str], sink: IO[str], evaluator: Evaluator) -> int:
    """Evaluate a JSON Lines stream; write one JSON line per case; return the number of failed lines."""
    failed = 0
    for record in evaluate_lines(source, evaluator):
        failed += not record["ok"]
        sink.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        sink.flush()
    return failed
