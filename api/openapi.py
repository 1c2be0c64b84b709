"""The OpenAPI document: FastAPI's, plus the models of the bodies routes parse themselves.

`/v1/chat/completions` (400s like OpenAI) and the JSON form of an upload validate their bodies by
hand, so FastAPI never sees those models; their schemas are added to `components` here and the
routes' `openapi_extra` points at them, so every `$ref` in the document resolves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF = "#/components/schemas/{model}"


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def links(*targets: tuple[str, str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links from a response to the operations that use what it returned: (method, path, parameters)."""
    found = {}
    for method, path, parameters in targets:
        pointer = path.replace("~", "~0").replace("/", "~1")
        name = method.capitalize() + "".join(p.strip("{}").title().replace("_", "") for p in path.split("/")[2:])
        found[name] = {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters}
    return {"links": found}


def install_openapi(
    app: FastAPI, extra_models: list[type[BaseModel]], edit: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """Serve FastAPI's document with `extra_models` (and the models they use) in its components, then
    `edit` (which adds what the routes cannot declare themselves, such as the roles' 403s)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )  # fmt: skip
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in extra_models:
                generated = model.model_json_schema(ref_template=REF)
                for name, definition in generated.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components[model.__name__] = generated
            if edit is not None:
                edit(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
