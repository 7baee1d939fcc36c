"""Optional features and the install extra each needs (``pip install 'imr-rules[EXTRA]'``).

The core install evaluates cases; reading letters, writing PDF, the HTTP service and the Ray executor each
need an extra. Their packages are imported only inside the functions that use them, through
``needs_extra``, so a missing one ends the command with a one-line message naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

EXTRAS: dict[str, tuple[str, ...]] = {
    "intake": ("medspacy", "spacy", "pypdf", "loguru", "quickumls", "cryptography"),
    "documents": ("weasyprint",),
    "service": ("fastapi", "uvicorn", "starlette", "httpx"),
    "ray": ("ray",),
}
"""Each extra, with the top-level modules it installs that imr-rules imports."""

FEATURES = {
    "intake": "reading IMR letters (extract, regress over letters)",
    "documents": "PDF output",
    "service": "the HTTP service (serve)",
    "ray": "the Ray executor (--executor ray)",
}


class MissingExtraError(Exception):
    """A feature's optional packages are not installed; the message names the extra to install."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(f"{FEATURES[extra]} needs the '{extra}' extra ({module} is not installed): "
                         f"pip install 'imr-rules[{extra}]'")

    def __reduce__(self) -> tuple[type[MissingExtraError], tuple[str, str]]:
        return (MissingExtraError, (self.extra, self.module))


@contextmanager
def needs_extra(extra: str) -> Iterator[None]:
    """Around the imports of an optional feature: a missing package of ``extra`` raises ``MissingExtraError``.

    A missing module that is not part of the extra is a different fault and propagates unchanged.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRAS[extra]:
            raise
        raise MissingExtraError(extra, top) from None
