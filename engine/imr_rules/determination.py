"""Determination documents and decision records.

A decision record ties a result to exactly what produced it: the record id is a hash of the normalized
case, the rule base version and the engine version, so the same inputs always give the same id and a
decision can be replayed and audited later (``imr-rules replay``).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

import jinja2

from . import __version__
from .case_model import Case
from .results import CaseResult

TEMPLATES = ("markdown", "html")


def normalized_case(case: Case) -> dict[str, Any]:
    """The case as canonical JSON data: defaults filled in, keys sorted when serialized."""
    data: dict[str, Any] = case.model_dump(mode="json")
    return data


def record_id(case: Case, rule_base_version: str, engine_version: str = __version__) -> str:
    """The decision record id: sha256 over the normalized case, rule base version and engine version."""
    payload = json.dumps({"case": normalized_case(case), "rule_base": rule_base_version, "engine": engine_version},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def decision_record(case: Case, result: CaseResult) -> dict[str, Any]:
    """The JSON decision record: the result (schema version 1) with its record id and the normalized case."""
    return {**result.to_json(), "record_id": record_id(case, result.rule_base_version, result.engine_version),
            "case": normalized_case(case)}


def _environment() -> jinja2.Environment:
    folder = resources.files("imr_rules") / "templates"
    loader = jinja2.FunctionLoader(lambda name: (folder / name).read_text(encoding="utf-8"))
    return jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def render_document(case: Case, result: CaseResult, kind: str) -> str:
    """The determination in the layout of an IMR letter, as Markdown or HTML (deterministic)."""
    name = {"markdown": "determination.md.j2", "html": "determination.html.j2"}[kind]
    template = _environment().get_template(name)
    return template.render(case=case, result=result, record_id=record_id(case, result.rule_base_version,
                                                                         result.engine_version))


def render_pdf(case: Case, result: CaseResult) -> bytes:
    """The determination as PDF, rendered from the HTML by WeasyPrint (no timestamps: same input, same bytes)."""
    import weasyprint  # heavy; loaded only for PDF output

    html = render_document(case, result, "html")
    document = weasyprint.HTML(string=html)
    pdf: bytes = document.write_pdf(metadata=False) if _supports_metadata_flag() else document.write_pdf()
    return pdf


def _supports_metadata_flag() -> bool:
    import inspect

    import weasyprint

    return "metadata" in inspect.signature(weasyprint.HTML.write_pdf).parameters
