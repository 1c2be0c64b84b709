"""OpenAI's POST /v1/embeddings with the service's own embedder (the vectors its retrieval uses)."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
from fastapi import APIRouter

from api.deps import ServicesDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.openai import MAX_EMBEDDING_INPUTS, EmbeddingItem, EmbeddingList, EmbeddingRequest, EmbeddingUsage
from api.served_models import embedding_model_name, model_aliases, require_model
from rag.errors import InvalidInput

router = APIRouter(tags=["openai-compatible"])
MAX_INPUTS = MAX_EMBEDDING_INPUTS


def _texts(body: EmbeddingRequest) -> list[str]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise InvalidInput("input: send a string or a non-empty list of strings")
    if not all(isinstance(t, str) for t in texts):
        raise InvalidInput(
            "input: token arrays are not supported (they are another model's tokens); send strings"
            " (LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False))"
        )
    if len(texts) > MAX_INPUTS:
        raise InvalidInput(f"input: at most {MAX_INPUTS} strings per request")
    return texts  # type: ignore[return-value]


@router.post("/v1/embeddings", response_model=EmbeddingList, responses=ERROR_RESPONSES)
async def embeddings(body: EmbeddingRequest, services: ServicesDep) -> EmbeddingList:
    name = embedding_model_name(services)
    require_model(body.model, [name, *model_aliases(services)])
    texts = _texts(body)
    embedder = services.components.embedder
    if body.dimensions is not None and body.dimensions != embedder.dimension:
        raise InvalidInput(
            f"dimensions: this embedder makes {embedder.dimension}-dimensional vectors",
        )
    vectors = np.asarray(await asyncio.to_thread(embedder.embed_documents, texts), dtype="<f4")
    tokens = sum(embedder.count_tokens(t) for t in texts)

    def encoded(vector: np.ndarray) -> list[float] | str:
        return base64.b64encode(vector.tobytes()).decode() if body.encoding_format == "base64" else vector.tolist()

    data = [EmbeddingItem(index=i, embedding=encoded(v)) for i, v in enumerate(vectors)]
    return EmbeddingList(data=data, model=name, usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens))
