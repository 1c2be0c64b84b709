"""Chat backends, chosen by `RAG_CHAT_BACKEND`: local llama.cpp, OpenAI-compatible, Llama API native."""

from __future__ import annotations

from rag.backends.base import ChatBackend, Completion, Delta, Message, SamplingParams, Usage
from rag.config import Settings

__all__ = ["ChatBackend", "Completion", "Delta", "Message", "SamplingParams", "Usage", "build_backend"]


def build_backend(settings: Settings) -> ChatBackend:
    name = settings.backend_name
    if name == "openai":
        from rag.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(settings)
    if name == "llama-api":
        from rag.backends.llama_api import LlamaAPIBackend

        return LlamaAPIBackend(settings)
    from rag.backends.local import LocalLlamaBackend

    return LocalLlamaBackend(settings)
