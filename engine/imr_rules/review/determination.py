"""Determination documents and decision records.

A decision record ties a result to exactly what produced it: the record id is a hash of the normalized
case, the rule base version and the engine version, so the same inputs always give the same id and a
decision can be replayed and audited later (``imr-rules replay``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import urllib.parse
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from imr_rules import __version__
from imr_rules.cases.model import Case
from imr_rules.common.extras import needs_extra
from imr_rules.common.text import printable
from imr_rules.engine.results import CaseResult

TEMPLATES = ("markdown", "html")


def normalized_case(case: Case) -> dict[str, Any]:
    """The case as canonical JSON data: defaults filled in, keys sorted when serialized."""
    data: dict[str, Any] = case.model_dump(mode="json", by_alias=True)
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


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#!{}])")


def markdown_text(value: Any) -> str:
    """A value as inert Markdown text: on one line, no control characters, no markup, no raw HTML
    (``<``, ``>`` and ``&`` as entities, the other Markdown characters backslash-escaped)."""
    text = printable(str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _environment(kind: str) -> jinja2.Environment:
    """Every ``{{ value }}`` is escaped: HTML-escaped in the HTML template, Markdown-escaped in the Markdown one."""
    folder = resources.files("imr_rules") / "templates"
    loader = jinja2.FunctionLoader(lambda name: (folder / name).read_text(encoding="utf-8"))
    options: dict[str, Any] = ({"autoescape": True, "finalize": lambda value: printable(str(value))}
                               if kind == "html" else {"autoescape": False, "finalize": markdown_text})
    return jinja2.Environment(loader=loader, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, **options)


def render_document(case: Case, result: CaseResult, kind: str) -> str:
    """The determination in the layout of an IMR letter, as Markdown or HTML (deterministic).

    Case and letter text is escaped wherever it is placed, so a description cannot add markup, a link
    or an attachment to the document.
    """
    name = {"markdown": "determination.md.j2", "html": "determination.html.j2"}[kind]
    template = _environment(kind).get_template(name)
    return template.render(case=case, result=result, record_id=record_id(case, result.rule_base_version,
                                                                         result.engine_version))


FONT_DATE_EPOCH = "315532800"
"""1980-01-01: the date fontTools writes into subset fonts' ``head`` table (SOURCE_DATE_EPOCH), so that a
render does not depend on the clock whichever subsetter (HarfBuzz or fontTools) WeasyPrint uses."""

_RENDER_LOCK = threading.Lock()


def _templates_folder() -> Path:
    return Path(str(resources.files("imr_rules") / "templates")).resolve()


def _shipped_font(url: str) -> bytes:
    """The bytes of a font shipped beside the templates; ``ValueError`` for any other URL (files, network)."""
    fonts = _templates_folder() / "fonts"
    if url.startswith("file://"):
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).resolve()
        if path.parent == fonts and path.suffix == ".ttf" and path.is_file():
            return path.read_bytes()
    raise ValueError(f"refused to fetch {url!r}: a determination embeds only its own fonts")


def _url_fetcher(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
    """Serve only the fonts shipped with the templates; refuse every other URL (WeasyPrint before 68)."""
    return {"string": _shipped_font(url), "mime_type": "font/ttf"}


def _fetcher() -> Any:
    """The URL fetcher to give WeasyPrint: a ``URLFetcher`` where WeasyPrint has that class (68 and later,
    which no longer accepts a plain function), else the function; both serve only the shipped fonts."""
    with needs_extra("documents"):
        from weasyprint import urls

    base: Any = getattr(urls, "URLFetcher", None)
    response: Any = getattr(urls, "URLFetcherResponse", None)
    if base is None or response is None:
        return _url_fetcher

    class ShippedFontsOnly(base):  # type: ignore[misc]
        """Fetches the shipped fonts; every other URL is refused (the refusal is logged, not fatal)."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            return response(url, _shipped_font(url), {"Content-Type": "font/ttf"})

    return ShippedFontsOnly()


@contextlib.contextmanager
def _fixed_font_timestamp() -> Iterator[None]:
    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = FONT_DATE_EPOCH
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = previous


@contextlib.contextmanager
def _renderer_quiet() -> Iterator[None]:
    """Keep the renderer's warnings (Python warnings, fontTools log records) off stderr while it runs."""
    logger = logging.getLogger("fontTools")
    propagate, logger.propagate = logger.propagate, False
    silent = logging.NullHandler()
    logger.addHandler(silent)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.removeHandler(silent)
        logger.propagate = propagate


def render_pdf(case: Case, result: CaseResult) -> bytes:
    """The determination as PDF, rendered from the HTML by WeasyPrint: same input, same bytes.

    The fonts are the ones shipped beside the templates (no system font decides the output), no metadata
    or timestamp is written, and subset fonts carry a fixed date whichever subsetter WeasyPrint uses.
    """
    html = render_document(case, result, "html")
    base_url = _templates_folder().as_uri() + "/"
    with _RENDER_LOCK, _fixed_font_timestamp(), _renderer_quiet():
        with needs_extra("documents"):
            import weasyprint  # heavy; loaded only for PDF output (it warns on import about optional libraries)

        document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_fetcher())
        pdf: bytes = document.write_pdf(metadata=False) if _supports_metadata_flag() else document.write_pdf()
    return pdf


def _supports_metadata_flag() -> bool:
    import inspect

    with needs_extra("documents"):
        import weasyprint

    return "metadata" in inspect.signature(weasyprint.HTML.write_pdf).parameters
