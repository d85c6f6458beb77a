"""POST /api/chat (JSON or Server-Sent Events) and POST /api/search."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from rag_chatbot.answering.chat import ChatReply
from rag_chatbot.answering.sentences import split_sentences
from rag_chatbot.api.deps import ContainerDep
from rag_chatbot.api.schemas import ChatRequest, ChatResponse, SearchRequest, SearchResponse
from rag_chatbot.cli.render import search_json

router = APIRouter(prefix="/api", tags=["chat"])


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, container: ContainerDep) -> dict[str, object]:
    """Ranked passages for a query (hybrid retrieval, no answer)."""
    hits = container.retriever.retrieve(body.query, body.top_k).hits
    return search_json(hits)


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat(body: ChatRequest, request: Request, container: ContainerDep) -> object:
    """Answer a question in a session; SSE with ``stream: true`` or ``Accept: text/event-stream``.

    The stream sends ``delta`` events (the answer a sentence at a time) and ends with one
    ``answer`` event holding the same object as the JSON response.
    """
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    reply: ChatReply = await run_in_threadpool(
        container.chat.chat,
        body.message,
        session_id=body.session_id,
        selected_text=body.selected_text,
    )
    if not wants_stream:
        return reply.as_dict()
    return StreamingResponse(
        _events(reply),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(reply: ChatReply) -> AsyncIterator[str]:
    for paragraph in reply.answer.answer.split("\n\n"):
        for piece in split_sentences(paragraph) or [paragraph]:
            yield _sse("delta", {"text": piece + " "})
        yield _sse("delta", {"text": "\n\n"})
    yield _sse("answer", reply.as_dict())


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
