"""Batch pre-screening: JSON Lines in, JSON Lines out, one result (or error list) per input line.

Every line is answered on its own: invalid UTF-8, invalid JSON, nesting too deep, a line over the size
limit or a case that fails to evaluate gives that line an error record and the stream goes on. After the
last line a trailer record says the batch is complete (``{"end_of_batch": true, ...}``): a consumer that
does not see it knows the batch was cut short.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from imr_rules.cases.reader import case_from_document
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.inputs import too_deep
from imr_rules.common.text import json_text
from imr_rules.common.yaml_source import MAX_BYTES, MAX_DEPTH, SourceDocument
from imr_rules.engine.durable_adapter import EngineError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.review.determination import decision_record

MAX_LINE_BYTES = MAX_BYTES
"""Longest input line accepted (the size limit of a case file)."""
_SKIP_CHUNK = 1 << 16


def _document(line_number: int, data: Any, stream_name: str) -> SourceDocument:
    return SourceDocument(path=Path(stream_name), data=data, lines={(): line_number})


def read_lines(source: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` for each line of ``source``; ``None`` for a line longer than ``limit``.

    Memory stays bounded: the rest of an overlong line is read in chunks and dropped.
    """
    number = 0
    while chunk := source.readline(limit + 1):
        number += 1
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            while (rest := source.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, chunk


def _line_error(stream_name: str, number: int, message: str, hint: str = "") -> InputError:
    return InputError([Diagnostic(stream_name, number, "(line)", message, hint)])


def case_data(number: int, raw: bytes | str | None, stream_name: str) -> Any:
    """The JSON value on one line; ``InputError`` for an overlong, non-UTF-8, malformed or too deep line."""
    if raw is None:
        raise _line_error(stream_name, number, f"line is longer than the limit of {MAX_LINE_BYTES:,} bytes",
                          "one case per line, as a compact JSON object")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _line_error(stream_name, number, f"line is not UTF-8 text (byte {exc.start + 1} of the line)",
                              "write the cases as UTF-8") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _line_error(stream_name, number, f"not valid JSON: {exc.msg}",
                          "each line must be one case as a JSON object") from None
    except RecursionError:
        raise _line_error(stream_name, number, f"nested more than {MAX_DEPTH} levels deep",
                          "a case is a few levels deep; is this the right input?") from None
    if too_deep(data, MAX_DEPTH):
        raise _line_error(stream_name, number, f"nested more than {MAX_DEPTH} levels deep",
                          "a case is a few levels deep; is this the right input?")
    return data


def answer_line(number: int, raw: bytes | str | None, evaluator: Evaluator,
                stream_name: str = "<stdin>") -> dict[str, Any]:
    """The output record of one input line: ``{"line", "ok", "result"}`` or ``{"line", "ok", "errors"}``.

    Never raises for anything a line holds: an unexpected failure is that line's error.
    """
    try:
        case = case_from_document(_document(number, case_data(number, raw, stream_name), stream_name),
                                  vocabulary=evaluator.compiled.rule_base.vocabulary)
        return {"line": number, "ok": True, "result": decision_record(case, evaluator.evaluate(case))}
    except InputError as exc:
        return {"line": number, "ok": False, "errors": [_error(d, number) for d in exc.diagnostics]}
    except EngineError as exc:
        return _failed(number, f"engine error: {exc}")
    except (RecursionError, MemoryError) as exc:
        return _failed(number, f"case too large to evaluate ({type(exc).__name__})")
    except Exception as exc:  # a bad line must never stop the stream
        return _failed(number, f"internal error: {type(exc).__name__}: {exc}")


def _failed(number: int, message: str) -> dict[str, Any]:
    return {"line": number, "ok": False, "errors": [{"line": number, "field": "", "message": message, "hint": ""}]}


def evaluate_lines(lines: Iterable[tuple[int, bytes | str | None]], evaluator: Evaluator,
                   stream_name: str = "<stdin>") -> Iterator[dict[str, Any]]:
    """One output record per non-blank input line, in order."""
    for number, raw in lines:
        if raw is not None and not raw.strip():
            continue
        yield answer_line(number, raw, evaluator, stream_name)


def trailer(answered: int, failed: int) -> dict[str, Any]:
    """The last record of a complete batch: how many lines were answered, and how many failed."""
    return {"end_of_batch": True, "answered": answered, "ok": answered - failed, "failed": failed}


def _error(diagnostic: Diagnostic, number: int) -> dict[str, Any]:
    return {"line": number, "field": diagnostic.field, "message": diagnostic.message, "hint": diagnostic.hint}


def _dump(record: dict[str, Any]) -> str:
    return json_text(json.dumps(record, ensure_ascii=False, separators=(",", ":"))) + "\n"


def evaluate_stream(source: IO[bytes], sink: IO[str], evaluator: Evaluator) -> int:
    """Evaluate a JSON Lines stream; write one JSON line per case, then the trailer; return the failed count."""
    answered = failed = 0
    for record in evaluate_lines(read_lines(source), evaluator):
        answered += 1
        failed += not record["ok"]
        sink.write(_dump(record))
        sink.flush()
    sink.write(_dump(trailer(answered, failed)))
    sink.flush()
    return failed
