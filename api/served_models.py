"""Which model names the OpenAI-compatible routes answer to: the served model and `RAG_MODEL_ALIASES`.

A request naming any other model (`gpt-4o` from a misconfigured bot) fails loudly with OpenAI's 404
`model_not_found` instead of being answered silently by whatever model is served here.
"""

from __future__ import annotations

from pathlib import Path

from api.deps import Services
from rag.errors import NotFound


class ModelNotFound(NotFound):
    param = "model"
    openai_code = "model_not_found"


def model_aliases(services: Services) -> list[str]:
    return [name.strip() for name in services.settings.model_aliases.split(",") if name.strip()]


def chat_model_names(services: Services) -> list[str]:
    """The chat backend's model first, then the aliases."""
    names = [services.backend.model, *model_aliases(services)]
    return list(dict.fromkeys(names))


def embedding_model_name(services: Services) -> str:
    path = getattr(services.components.embedder, "model_path", None)
    return Path(path).name if path else "embedder"


def require_model(requested: str | None, served: list[str]) -> None:
    """A request without a model gets the served one; a name that is neither served nor an alias is a 404."""
    if requested is None or requested in served:
        return
    choices = ", ".join(repr(name) for name in served)
    raise ModelNotFound(
        f"The model {requested!r} does not exist here: this service answers to {choices}"
        " (add other names to RAG_MODEL_ALIASES)"
    )
