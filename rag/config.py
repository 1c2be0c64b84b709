"""All settings in one place: `RAG_*` environment variables, a `.env` file, or the user's config file
(`~/.config/rag/config.toml` or the platform's equivalent), in that order of precedence."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

BackendName = Literal["local", "openai", "llama-api"]
LogFormat = Literal["text", "json"]
AnswerMode = Literal["generate", "extract", "auto"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The user's config file comes last: env vars and .env still win over it.
        config_file = TomlConfigSettingsSource(settings_cls, toml_file=user_config_file())
        return init_settings, env_settings, dotenv_settings, config_file, file_secret_settings

    # Storage
    data_dir: Path = Field(Path("./data"), description="Where Chroma, the keyword index and the registry live.")
    chroma_url: str | None = Field(None, description="Chroma server URL, e.g. http://127.0.0.1:8000; unset = embedded.")
    originals_dir: Path | None = Field(
        None,
        description="Where uploaded originals are kept (page images, downloads); unset = <data>/originals."
        " On several machines: a folder every server and worker mounts.",
    )
    database_url: str | None = Field(
        None,
        description="PostgreSQL URL (postgresql://user:password@host/db) for the registry and the keyword index,"
        " shared by every process; unset = SQLite files in the data dir.",
    )

    # Embeddings and chunking
    embedding_model: str | None = Field(
        None, description="Local sentence-transformers model path; unset = packaged all-MiniLM-L6-v2."
    )
    embedding_batch_size: int = Field(8, ge=1, description="Texts per encoder batch (small batches pad less).")
    onnx_queries: bool = Field(
        True, description="Embed queries with ONNX Runtime (exported in memory at start; ~2.5x faster than PyTorch)."
    )
    document_encoder: Literal["onnx", "pytorch"] = Field(
        "onnx",
        description="What encodes documents: ONNX Runtime (the query path's export, checked against PyTorch at"
        " start; PyTorch if the check fails) or PyTorch.",
    )
    serve_torch_threads: int = Field(
        1, ge=1, description="PyTorch threads in `rag serve`: 1 keeps query latency low when requests overlap."
    )
    worker_torch_threads: int | None = Field(
        None,
        ge=1,
        description="PyTorch threads of `rag worker`; unset = PyTorch's default (every core). Several workers on"
        " one machine: cores / workers (two workers on 2 cores with 2 threads each took 2.2x the CPU per document).",
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
    sync_upload_text_bytes: int = Field(
        256 * 1024,
        ge=0,
        description="Uploads whose plain-text files (.txt, .md, .html, .csv, .eml, JSON text) hold more bytes than"
        " this become jobs: in these a byte is about a character to embed (~1 KB a chunk, ~15 s for 256 KB on two"
        " cores), where a PDF's or Word file's bytes are mostly not text.",
    )
    ocr: Literal["auto", "off", "force"] = Field(
        "auto",
        description="Tesseract OCR of PDF pages and images: auto = only pages with no usable text layer (and images),"
        " off = never (a scanned PDF is refused), force = every PDF page, its text layer ignored.",
    )
    ocr_languages: str = Field(
        "eng",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages, '+'-joined (e.g. eng+deu); each needs its tesseract-ocr-LANG package.",
    )

    # Ingestion jobs (ingest/jobs/runners.py): run inside `rag serve`, or by `rag worker` processes
    serve_ingest: bool = Field(
        True, description="`rag serve` runs ingestion itself; false (`--no-ingest`): every upload is a job for workers."
    )
    staging_dir: Path | None = Field(
        None, description="Where uploads are staged for their job; every worker must read it. Unset = <data>/uploads."
    )
    job_lease_s: float = Field(
        60.0, gt=0, description="A running job whose worker sent no heartbeat for this long is taken over by another."
    )
    worker_poll_s: float = Field(2.0, gt=0, description="How often an idle `rag worker` looks for a job.")
    job_max_takeovers: int = Field(
        3, ge=0, description="A job taken over more often than this (its workers keep dying) fails instead."
    )

    # Synced sources (ingest/synced_sources.py)
    source_roots: str = Field(
        "",
        description="Comma-separated folders under which API callers may add `folder` and local `git` sources;"
        " empty: none (the CLI, run by someone who reads the files anyway, may add any path).",
    )
    source_hosts: str = Field(
        "",
        description="Comma-separated host names (`*` wildcards) that API callers may point `web` sources, `s3`"
        " endpoints and remote `git` repositories at (`s3.amazonaws.com` for AWS); empty: none (the CLI may add any).",
    )
    source_watch: bool = Field(
        True, description="`rag serve` and `rag worker` sync a folder source as soon as its files change (watchfiles)."
    )
    source_schedule_poll_s: float = Field(
        5.0, gt=0, description="How often `rag serve` and `rag worker` look for scheduled syncs that are due."
    )

    # Retrieval
    default_collection: str = Field(
        "sample", description="Collection every CLI command and /v1/chat/completions use when none is given."
    )
    reranker_model: str | None = Field(None, description="Local CrossEncoder path; unset = offline default re-ranker.")
    candidates: int = Field(50, ge=1, description="Dense and keyword candidates fetched before fusion.")
    search_steps: str = Field(
        "dedupe",
        description="Steps after the re-rank, comma-separated: rm3, vector-prf, dedupe, page-evidence, heading-match.",
    )
    chunk_headers: bool = Field(
        True, description="Embed and keyword-index each chunk with its document name and heading path before it."
    )
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
    answerability_model: Path | None = Field(
        None,
        description="JSON coefficients from benchmarks/fit_answerability.py (e.g. fitted on your own questions);"
        " unset = the shipped fit.",
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
    local_threads: int | None = Field(
        None, description="llama.cpp threads for the local backend; unset = all cores but one (at least 1)."
    )
    max_tokens: int = Field(256, ge=1, description="Default answer length in tokens.")
    generation_queue: int = Field(
        4, ge=0, description="Requests that may wait for the chat model beyond those it runs; more get 429 at once."
    )
    generation_max_wait_s: float = Field(
        30.0, gt=0, description="The queue also counts as full when a newcomer would wait longer than this."
    )
    generation_concurrency: int | None = Field(
        None, ge=1, description="Generations at once; unset = 1 for the local model, 4 for a remote backend."
    )
    max_summarize_chars: int = Field(
        100_000, ge=1, description="Most characters /v1/summarize takes (text, document or topic chunks); above: 413."
    )

    # OpenAI-compatible routes
    model_aliases: str = Field(
        "rag", description="Comma-separated model names answered besides the served model; others get 404."
    )
    citations_in_content: bool = Field(
        False, description="Append a 'Sources:' block to chat answers by default (for clients that show only text)."
    )

    # The answer log and feedback (rag/storage/answers/, rag/answering/feedback.py)
    keep_questions: bool = Field(
        True,
        description="Keep each answer's question, text and sources for feedback and insights; false = only its"
        " collection, time and abstention (feedback then keeps only what the user sends).",
    )
    question_retention_days: int = Field(
        90, ge=1, le=36500, description="Answers and feedback older than this many days are purged."
    )

    # HTTP service
    host: str = Field("127.0.0.1", description="Address `rag serve` binds to.")
    port: int = Field(8000, description="Port `rag serve` listens on.")
    api_keys: str = Field(
        "", description="Comma-separated admin bearer keys; with none here nor from `rag keys create`: no auth."
    )
    shutdown_grace_s: float = Field(
        10.0, gt=0, description="On shutdown, how long requests in flight may finish before they are cancelled."
    )
    public_docs: bool = Field(False, description="Serve /docs, /redoc and /openapi.json without a key.")

    # Observability (api/middleware/metrics.py, api/middleware/request_log.py, api/middleware/tracing.py)
    public_metrics: bool = Field(False, description="Serve GET /metrics without the API key.")
    log_format: LogFormat = Field("text", description="text | json: one JSON line per request.")
    otel_endpoint: str | None = Field(
        None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OpenTelemetry collector (OTLP over HTTP, e.g. http://127.0.0.1:4318); set = tracing on.",
    )

    @field_validator("answerability_model", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # RAG_ANSWERABILITY_MODEL= means the shipped fit, not "."

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_size_tokens:
            raise ValueError("RAG_CHUNK_OVERLAP_TOKENS must be smaller than RAG_CHUNK_SIZE_TOKENS")
        return self

    @model_validator(mode="after")
    def _check_database_url(self) -> Settings:
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("RAG_DATABASE_URL must be a postgresql:// URL")
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
    def generation_slots(self) -> int:
        # llama.cpp runs one generation at a time; a remote server batches several.
        return self.generation_concurrency or (1 if self.backend_name == "local" else 4)

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def originals_path(self) -> Path:
        return self.originals_dir or self.data_dir / "originals"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keyword_db(self) -> Path:
        return self.data_dir / "keyword.sqlite"

    @property
    def registry_db(self) -> Path:
        return self.data_dir / "registry.sqlite"

    @property
    def answers_db(self) -> Path:
        return self.data_dir / "answers.sqlite"

    @property
    def keys_db(self) -> Path:
        return self.data_dir / "keys.sqlite"

    @property
    def source_root_paths(self) -> list[Path]:
        return [Path(p.strip()).expanduser().resolve() for p in self.source_roots.split(",") if p.strip()]

    @property
    def source_host_patterns(self) -> list[str]:
        return [h.strip().lower() for h in self.source_hosts.split(",") if h.strip()]

    @property
    def staging_path(self) -> Path:
        return self.staging_dir or self.data_dir / "uploads"


def user_config_file() -> Path:
    """`config.toml` in the user's config folder (platformdirs: ~/.config/rag on Linux, honouring XDG)."""
    from platformdirs import user_config_path

    return user_config_path("rag") / "config.toml"


@lru_cache
def get_settings() -> Settings:
    return Settings()
