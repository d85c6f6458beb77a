"""The JSON of answers and search results, one shape wherever it is printed or sent.

``/api/chat`` (its JSON and its SSE ``answer`` event) and ``rag-chatbot ask --json`` print an
answer; ``/api/search`` and ``rag-chatbot search --json`` print search results (contract:
DESIGN.md). The models are what the OpenAPI spec documents; the converters make them from the
domain's objects. The HTTP API and the command line both render from here, so neither depends
on the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from rag_chatbot.domain import Answer, Citation, ScoredChunk

_SCORE_DIGITS = 4
_CITATIONS: TypeAdapter[list[Citation]] = TypeAdapter(list[Citation])


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


class ChatAnswer(BaseModel):
    """An answer, with the session it was stored in (none outside the API: the CLI's)."""

    answer: str
    session_id: str | None
    message_id: str | None
    grounded: bool
    confidence: float | None = Field(
        None,
        description="How sure retrieval is that the documents answer the question (0 to 1); "
        "below the grounding threshold the answer is declined. Null for a question about "
        "selected text.",
    )
    citations: list[Citation]
    generator: str


# The /api/chat answer: always stored, timed, and told whether it came from the cache. (A comment,
# not a docstring: the spec documents the model as it always has.)
class ChatResponse(ChatAnswer):
    session_id: str
    message_id: str
    latency_ms: float
    cached: bool = Field(False, description="Served from the response cache.")


def answer_json(
    answer: Answer, session_id: str | None = None, message_id: str | None = None
) -> dict[str, Any]:
    """The fields of an answer that need no request: what ``rag-chatbot ask --json`` prints."""
    return ChatAnswer(session_id=session_id, message_id=message_id, **_answer(answer)).model_dump()


def chat_json(
    answer: Answer, session_id: str, message_id: str, latency_ms: float, cached: bool
) -> dict[str, Any]:
    """The ``/api/chat`` response object (and the SSE ``answer`` event's data)."""
    return ChatResponse(
        session_id=session_id,
        message_id=message_id,
        latency_ms=round(latency_ms, 1),
        cached=cached,
        **_answer(answer),
    ).model_dump()


def citations_json(citations: Sequence[Citation]) -> list[dict[str, Any]]:
    """Citations as JSON objects: in the answers above, in stored messages, in ``/v1``'s."""
    dumped: list[dict[str, Any]] = _CITATIONS.dump_python(list(citations))
    return dumped


def search_json(hits: Iterable[ScoredChunk]) -> dict[str, Any]:
    """The ``/api/search`` response (and a line of ``rag-chatbot search --json``)."""
    results = [
        SearchResult(
            source=h.chunk.source,
            title=h.chunk.title,
            section=h.chunk.section,
            url=h.chunk.url,
            text=h.chunk.text,
            score=round(h.score, _SCORE_DIGITS),
            document_id=h.chunk.document_id,
            chunk_id=h.chunk.id,
        )
        for h in hits
    ]
    return SearchResponse(results=results).model_dump()


def _answer(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.answer,
        "grounded": answer.grounded,
        "confidence": answer.confidence,
        "citations": list(answer.citations),
        "generator": answer.generator,
    }
