"""The JSON Schema of the case format: generated from the case model and the vocabulary of a rule base."""

from __future__ import annotations

from typing import Any

from imr_rules.cases.model import Case
from imr_rules.cases.terms import schema_with_vocabulary
from imr_rules.cases.vocabulary import Vocabulary


def case_schema(vocabulary: Vocabulary) -> dict[str, Any]:
    """The JSON Schema of a case, with the allowed terms of every vocabulary field listed."""
    schema = Case.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema_with_vocabulary(schema, vocabulary)
