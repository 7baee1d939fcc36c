"""Rationale and criterion templates: ``{fact.name}`` fields filled from an item's facts.

The one definition of a template field: the validator checks the names, the compiler projects the facts a
template prints, and the explanation fills them in, all with ``TEMPLATE_FIELD``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
"""A field in a template: anything between braces; the name is the text inside, stripped."""

SPECIAL_FIELDS = ("citation", "guideline", "item.description", "findings")
"""Fields that are not facts: filled from the deciding topic, the request, or the criteria sentences."""


def template_fields(template: str) -> list[str]:
    """The field names a template uses, in order (stripped of spaces)."""
    return [match.group(1).strip() for match in TEMPLATE_FIELD.finditer(template)]


def format_value(value: Any) -> str:
    """A fact value as a sentence shows it."""
    if value is None:
        return "not documented"
    if isinstance(value, list):
        return ", ".join(str(v).replace("_", " ") for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ")


def fill(template: str, field_text: Callable[[str], str]) -> str:
    """The template with every field replaced by ``field_text(name)``, whitespace collapsed."""
    return " ".join(TEMPLATE_FIELD.sub(lambda match: field_text(match.group(1).strip()), template).split())
