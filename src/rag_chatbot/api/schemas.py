"""Request and response bodies of the HTTP API (contract: ../shared/DESIGN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag_chatbot.answering.answerer import MAX_QUESTION_CHARS, MAX_SELECTION_CHARS
from rag_chatbot.api.storable import StorableBody
from rag_chatbot.domain import Citation


class Strict(StorableBody):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str
    error_code: str
    timestamp: datetime


class SearchRequest(Strict):
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int = Field(5, ge=1, le=50)


class SearchResult(BaseModel):
    source: str
    title: str
    section: str
    url: str
    text: str
    score: float
    document_id: str
    chunk_id: str


class SearchResponse(BaseModel):
    results: list[SearchResult]


class ChatRequest(Strict):
    message: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    session_id: str | None = Field(None, max_length=64)
    selected_text: str | None = Field(None, max_length=MAX_SELECTION_CHARS)
    stream: bool = False


class ChatResponse(BaseModel):
    answer: str
    session_id: str
    message_id: str
    grounded: bool
    citations: list[Citation]
    generator: str
    latency_ms: float
    cached: bool = Field(False, description="Served from the response cache.")


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
