"""POST /api/chat (JSON or Server-Sent Events) and POST /api/search."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rag_chatbot.answering.base import Restart
from rag_chatbot.answering.chat import ChatReply
from rag_chatbot.api.deps import ContainerDep
from rag_chatbot.api.schemas import ChatRequest, ChatResponse, SearchRequest, SearchResponse
from rag_chatbot.api.security import CLIENT_TOKEN_HEADER, ChatCallerDep, Principal
from rag_chatbot.cli.render import search_json
from rag_chatbot.errors import RagChatbotError

router = APIRouter(prefix="/api", tags=["chat"])
_Item = str | Restart | ChatReply


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
async def chat(
    body: ChatRequest, request: Request, container: ContainerDep, caller: ChatCallerDep
) -> object:
    """Answer a question in a session; SSE with ``stream: true`` or ``Accept: text/event-stream``.

    The stream sends ``delta`` events (the answer's text as it is written), a ``restart``
    event if the model failed mid-answer (the text so far is withdrawn; the fallback's
    follows), and ends with one ``answer`` event holding the same object as the JSON
    response — or an ``error`` event (``detail``, ``error_code``). The session belongs to the
    caller: a user, or the browser's ``X-Client-Token`` (minted and returned in that response
    header when the request had none).
    """
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if not wants_stream:
        # A cached answer to a first question is served on the event loop (no thread hop).
        reply: ChatReply | None = None
        if body.session_id is None:
            reply = await container.chat.cached_reply(
                body.message, selected_text=body.selected_text, owner=caller.owner
            )
        if reply is None:
            reply = await run_in_threadpool(
                container.chat.chat,
                body.message,
                session_id=body.session_id,
                selected_text=body.selected_text,
                owner=caller.owner,
            )
        return JSONResponse(reply.as_dict(), headers=_identity_headers(caller))
    # Session, question and retrieval are checked here: their errors get an HTTP status.
    # The first item is read in the same thread call, so it goes out with the headers rather
    # than after another trip through the thread pool.
    items = await run_in_threadpool(
        lambda: _first_item_ready(
            container.chat.stream(
                body.message,
                session_id=body.session_id,
                selected_text=body.selected_text,
                owner=caller.owner,
            )
        )
    )
    return StreamingResponse(
        _events(items),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **_identity_headers(caller),
        },
    )


def _identity_headers(caller: Principal) -> dict[str, str]:
    token = caller.issued_client_token
    return {CLIENT_TOKEN_HEADER: token} if token else {}


def _first_item_ready(items: Iterator[_Item]) -> Iterator[_Item]:
    """``items`` with its first item already produced (an error then gets an HTTP status)."""
    first = next(items, None)
    return items if first is None else itertools.chain([first], items)


def _events(items: Iterator[_Item]) -> Iterator[str]:
    """SSE events; a sync iterator, so Starlette runs each step in its thread pool."""
    try:
        for item in items:
            if isinstance(item, str):
                yield _sse("delta", {"text": item})
            elif isinstance(item, Restart):
                yield _sse("restart", {"reason": item.reason})
            else:
                yield _sse("answer", item.as_dict())
    except RagChatbotError as exc:  # the response has started: report in the stream
        yield _sse("error", {"detail": str(exc), "error_code": exc.error_code})


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
