"""All settings in one place: `RAG_*` environment variables or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BackendName = Literal["local", "openai", "llama-api"]
AnswerMode = Literal["generate", "extract", "auto"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # Storage
    data_dir: Path = Field(Path("./data"), description="Where Chroma, the keyword index and the registry live.")
    chroma_url: str | None = Field(None, description="Chroma server URL, e.g. http://127.0.0.1:8000; unset = embedded.")

    # Embeddings and chunking
    embedding_model: str | None = Field(
        None, description="Local sentence-transformers model path; unset = packaged all-MiniLM-L6-v2."
    )
    embedding_batch_size: int = Field(8, ge=1, description="Texts per encoder batch (small batches pad less).")
    onnx_queries: bool = Field(
        True, description="Embed queries with ONNX Runtime (exported in memory at start; ~2.5x faster than PyTorch)."
    )
    serve_torch_threads: int = Field(
        1, ge=1, description="PyTorch threads in `rag serve`: 1 keeps query latency low when requests overlap."
    )
    chunk_size_tokens: int = Field(200, ge=16, description="Chunk size in the embedder's own tokens.")
    chunk_overlap_tokens: int = Field(30, ge=0, description="Token overlap between neighbouring chunks.")
    max_file_bytes: int = Field(50 * 1024 * 1024, ge=1, description="Files above this size are refused.")
    max_upload_bytes: int = Field(
        500 * 1024 * 1024, ge=1, description="HTTP upload bodies above this are refused (413)."
    )
    max_request_bytes: int = Field(
        1024 * 1024, ge=1, description="JSON request bodies (search, query, chat, ...) above this are refused (413)."
    )
    sync_upload_bytes: int = Field(
        5 * 1024 * 1024,
        ge=0,
        description="Uploads up to this size ingest before the response; bigger: a job.",
    )
    sync_upload_files: int = Field(10, ge=0, description="Uploads with more files than this become jobs.")

    # Retrieval
    default_collection: str = Field("sample", description="Collection /v1/chat/completions uses when none is given.")
    reranker_model: str | None = Field(None, description="Local CrossEncoder path; unset = offline default re-ranker.")
    candidates: int = Field(50, ge=1, description="Dense and keyword candidates fetched before fusion.")
    context_tokens: int | None = Field(
        None, ge=50, description="Most tokens of retrieved text in a prompt; unset = 400 for local, else the window."
    )

    # Answers
    answer_mode: AnswerMode | None = Field(
        None,
        description="generate | extract | auto (generate, extractive fallback when the checker rejects it);"
        " unset = extract for the local backend, generate otherwise.",
    )
    verifier_model: str | None = Field(
        None, description="Local NLI/cross-encoder path that double-checks citations; unset = embedder + lexical."
    )

    # Chat backend
    chat_backend: BackendName | None = Field(
        None, description="local | openai | llama-api; unset = openai when a base URL is set, else local."
    )
    chat_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible or Llama API server.")
    chat_api_key: str | None = Field(None, description="API key sent to the chat backend.")
    chat_model: str | None = Field(None, description="Model name sent to the chat backend.")
    chat_context_window: int = Field(2048, ge=256, description="Context window of the chat model, in tokens.")
    chat_timeout_s: float = Field(60.0, gt=0, description="Timeout of one backend call.")
    chat_max_retries: int = Field(2, ge=0, description="Retries on 429/5xx/connection errors, with backoff.")
    local_model_path: str | None = Field(None, description="GGUF path for the local backend; unset = packaged SmolLM2.")
    local_threads: int | None = Field(None, description="llama.cpp threads for the local backend; unset = all cores.")
    max_tokens: int = Field(256, ge=1, description="Default answer length in tokens.")

    # HTTP service
    host: str = Field("127.0.0.1", description="Address `rag serve` binds to.")
    port: int = Field(8000, description="Port `rag serve` listens on.")
    api_keys: str = Field("", description="Comma-separated bearer keys; empty = no auth.")

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_size_tokens:
            raise ValueError("RAG_CHUNK_OVERLAP_TOKENS must be smaller than RAG_CHUNK_SIZE_TOKENS")
        return self

    @property
    def backend_name(self) -> BackendName:
        if self.chat_backend:
            return self.chat_backend
        return "openai" if self.chat_base_url else "local"

    @property
    def effective_answer_mode(self) -> AnswerMode:
        if self.answer_mode:
            return self.answer_mode
        # Measured on kb-dev: quoting the best source sentences beats what the packaged 135M model writes
        # on every figure (README, "Answers you can check"); real Llama servers generate.
        return "extract" if self.backend_name == "local" else "generate"

    @property
    def answer_context_tokens(self) -> int | None:
        # The local CPU model reads prompts at a few hundred tokens/s: a short context keeps first tokens fast.
        return self.context_tokens or (400 if self.backend_name == "local" else None)

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keyword_db(self) -> Path:
        return self.data_dir / "keyword.sqlite"

    @property
    def registry_db(self) -> Path:
        return self.data_dir / "registry.sqlite"


@lru_cache
def get_settings() -> Settings:
    return Settings()
