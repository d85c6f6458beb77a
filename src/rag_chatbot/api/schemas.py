"""Request and response bodies of the HTTP API (contract: ../shared/DESIGN.md).

The answer and search-result shapes, which the command line prints too, are in ``wire``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from rag_chatbot.answering.answerer import MAX_QUESTION_CHARS, MAX_SELECTION_CHARS
from rag_chatbot.api.storable import StorableBody
from rag_chatbot.domain import Citation


class Strict(StorableBody):
    """A request body as the spec says it: no unknown fields, no coercion (``true`` is no 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _integral(value: object) -> object:
    # JSON Schema's integer includes 40.0; strict validation then refuses true, "40" and 4.5.
    return int(value) if isinstance(value, float) and value.is_integer() else value


JsonInt = Annotated[int, BeforeValidator(_integral)]
"""An integer as JSON Schema has it, for strict request bodies."""


ErrorCode = Literal[
    "INVALID_INPUT",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "SESSION_NOT_FOUND",
    "FILE_TOO_LARGE",
    "UNSUPPORTED_FORMAT",
    "RATE_LIMIT_EXCEEDED",
    "PROCESSING_ERROR",
    "EMBEDDING_ERROR",
    "CONTEXT_RETRIEVAL_ERROR",
    "AI_SERVICE_ERROR",
    "SERVICE_UNAVAILABLE",
]


class ErrorBody(BaseModel):
    """The body of every error response (contract; ``api.errors`` makes it)."""

    model_config = ConfigDict(extra="forbid")
    detail: str = Field(description="What went wrong, for a person to read.")
    error_code: ErrorCode = Field(description="Stable code for programs.")
    timestamp: datetime


class OpenAIError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str
    type: Literal["invalid_request_error", "server_error"]
    code: ErrorCode


class OpenAIErrorBody(ErrorBody):
    """Errors of the ``/v1`` routes: the usual fields plus OpenAI's ``error`` object."""

    error: OpenAIError


class SearchRequest(Strict):
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: JsonInt = Field(5, ge=1, le=50)


class ChatRequest(Strict):
    message: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    session_id: str | None = Field(None, max_length=64)
    selected_text: str | None = Field(None, max_length=MAX_SELECTION_CHARS)
    stream: bool = False


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    title: str
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    session_id: str
    role: str
    content: str
    citations: list[Citation]
    grounded: bool | None
    latency_ms: float | None
    generator: str | None
    created_at: datetime


class FeedbackRequest(Strict):
    rating: Literal[1, -1]
    comment: str | None = Field(None, max_length=2000)

    @field_validator("rating", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        # A Literal of ints takes ``true`` as 1 even in strict mode; the spec says integer.
        if isinstance(value, bool):
            raise ValueError("rating must be 1 or -1, not a boolean")
        return value


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    message_id: str
    rating: int
    comment: str | None
    created_at: datetime


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    source: str
    title: str
    media_type: str
    status: Literal["processing", "completed", "failed"]
    chunk_count: int
    content_hash: str
    size_bytes: int
    error: str | None
    created_at: datetime
    updated_at: datetime


class ReindexOut(BaseModel):
    status: Literal["accepted"]
    documents: int


class HealthOut(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    environment: str
    version: str
    timestamp: datetime


class DetailedHealthOut(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    services: dict[str, str]
    metrics: dict[str, float]
    timestamp: datetime


# What a crawl can start from: http(s), a host name or IPv4 address, a port that exists, no
# spaces. The spec states it; ``SourceRequest`` holds to it with a message of its own.
SOURCE_URL_PATTERN = (
    r"^[hH][tT][tT][pP][sS]?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?"
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
    r"([/?#][^\s\u0000]*)?$"
)
# A whole number and a unit, a minute at the least and a few years at the most.
EVERY_PATTERN = (
    r"^(([6-9][0-9]|[1-9][0-9]{2,7})s|[1-9][0-9]{0,5}m|[1-9][0-9]{0,3}h|[1-9][0-9]{0,2}d)$"
)


def _matching(pattern: str, rule: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(rule)
        return value

    return AfterValidator(check)


SourceUrl = Annotated[
    str,
    Field(min_length=1, max_length=2048, json_schema_extra={"pattern": SOURCE_URL_PATTERN}),
    _matching(SOURCE_URL_PATTERN, "an http:// or https:// address of a host name or IPv4 address"),
]
Every = Annotated[
    str,
    Field(json_schema_extra={"pattern": EVERY_PATTERN}),
    _matching(EVERY_PATTERN, "a whole number and a unit (s, m, h, d), a minute at least, like 24h"),
]
Glob = Annotated[str, Field(min_length=1, max_length=512)]
# The bounds before the validator, so that the spec states them inside the ``anyOf`` of ``None``.
PageCount = Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(_integral)]
LinkDepth = Annotated[int, Field(ge=0, le=10_000), BeforeValidator(_integral)]


class SourceRequest(Strict):
    """A website to crawl (``POST /api/sources``); the options of ``rag-chatbot ingest URL``."""

    url: SourceUrl = Field(description="The site's root page, or its sitemap (.xml, .xml.gz).")
    include: list[Glob] = Field(
        default_factory=list, max_length=100, description="Crawl only URL paths matching these."
    )
    exclude: list[Glob] = Field(
        default_factory=list, max_length=100, description="Never crawl URL paths matching these."
    )
    max_pages: PageCount | None = Field(
        None, description="Pages a crawl fetches at most (CRAWL_MAX_PAGES)."
    )
    depth: LinkDepth | None = Field(None, description="Links a crawl follows from its start.")
    every: Every | None = Field(None, description="Crawl again this often, like 24h; null: once.")


class SourceOut(BaseModel):
    """A crawled website and its last run (``GET /api/sources/{id}``)."""

    id: str
    url: str
    status: Literal["queued", "running", "completed", "failed"]
    options: dict[str, Any] = Field(description="include, exclude, max_pages, max_depth.")
    every_seconds: int | None
    pages_done: int = Field(description="Pages the current or last run has settled so far.")
    report: dict[str, Any] = Field(
        description="The last run's counts, as `rag-chatbot ingest --json` prints them."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    next_run_at: datetime | None
