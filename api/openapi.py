"""The OpenAPI document: FastAPI's, plus the models of the bodies routes parse themselves, plus what only
the running server knows (whether keys exist, the embedder's dimension).

`/v1/chat/completions` (400s like OpenAI) and the JSON form of an upload validate their bodies by
hand, so FastAPI never sees those models; their schemas are added to `components` here and the
routes' `openapi_extra` points at them, so every `$ref` in the document resolves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF = "#/components/schemas/{model}"
UNAUTHORIZED = {
    "description": "No valid API key: send 'Authorization: Bearer <key>'",
    "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}},
}


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


def declare_auth(schema: dict[str, Any], keys_exist: bool) -> None:
    """The bearer scheme as the server applies it. FastAPI declares it on every protected operation; that is
    true once a key exists (then each of them may answer 401), false before: with no key every request is
    served, so a document asking for one would promise refusals that never come."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "security" not in operation:
                continue
            if keys_exist:
                operation.setdefault("responses", {})["401"] = UNAUTHORIZED
            else:
                del operation["security"]
    if not keys_exist:
        schema.get("components", {}).pop("securitySchemes", None)


def install_openapi(
    app: FastAPI,
    extra_models: list[type[BaseModel]],
    state: Callable[[], Hashable],
    edit: Callable[[dict[str, Any], Any], None],
) -> None:
    """Serve FastAPI's document with `extra_models` (and the models they use) in its components, then
    `edit(document, state())`, which adds what the routes cannot declare themselves. `state()` names what the
    document depends on at run time (a key created by `rag keys create` turns auth on while the server runs):
    one document is built and kept per state."""
    documents: dict[Hashable, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        current = state()
        if current not in documents:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )  # fmt: skip
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in extra_models:
                generated = model.model_json_schema(ref_template=REF)
                for name, definition in generated.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components[model.__name__] = generated
            edit(schema, current)
            documents[current] = schema
        app.openapi_schema = documents[current]
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
