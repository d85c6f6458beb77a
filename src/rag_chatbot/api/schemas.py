"""Request and response bodies of the HTTP API (contract: ../shared/DESIGN.md).

The answer and search-result shapes, which the command line prints too, are in ``wire``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

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
