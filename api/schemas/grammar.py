"""rag.validation's grammar as pydantic types whose JSON schemas document it (filters, metadata)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

from rag import validation as grammar
from rag.errors import InvalidInput


def _checked(check: Any) -> AfterValidator:
    """Run a rag.validation check inside validation, so a bad value is the route's 4xx like any other."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc

    return AfterValidator(validate)


# rag.validation checks the values as they came (10**30 stays an int, to be refused, not a float); the
# JSON schemas below document the same grammar.
_SCALARS: list[dict[str, Any]] = [
    {"type": "string", "maxLength": grammar.MAX_STRING_VALUE},
    {"type": "integer", "minimum": grammar.INT64_MIN, "maximum": grammar.INT64_MAX},
    {"type": "number"},
    {"type": "boolean"},
]
_LISTS = [{"type": "array", "items": s, "minItems": 1, "maxItems": grammar.MAX_FILTER_VALUES} for s in _SCALARS]
_KEYS = {"type": "object", "propertyNames": {"pattern": grammar.KEY_PATTERN}}
FILTERS_SCHEMA = {
    **_KEYS,
    "maxProperties": grammar.MAX_FILTER_KEYS,
    "additionalProperties": {"anyOf": [*_SCALARS, *_LISTS]},
    "description": f"Match chunk metadata: {grammar.GRAMMAR}",
}
Filters = Annotated[dict[str, Any], WithJsonSchema(FILTERS_SCHEMA), _checked(grammar.check_filters)]
METADATA_SCHEMA = {**_KEYS, "additionalProperties": {"anyOf": _SCALARS}}
Metadata = Annotated[dict[str, Any], WithJsonSchema(METADATA_SCHEMA), _checked(grammar.check_metadata)]
