"""A model's JSON schema that can sit anywhere inside the OpenAPI document (for `openapi_extra`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model_json_schema()` with its `$defs` inlined: placed inside OpenAPI, a `#/$defs/X` pointer resolves
    against the whole document, where there is no `$defs` (ReDoc stops with "Invalid reference token")."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        rest = {key: resolve(value) for key, value in node.items() if key != "$ref" or not ref.startswith("#/$defs/")}
        if ref.startswith("#/$defs/"):
            return {**resolve(defs[ref.removeprefix("#/$defs/")]), **rest}
        return rest

    return resolve(schema)  # type: ignore[no-any-return]
