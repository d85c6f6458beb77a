"""POST /api/chat (JSON or Server-Sent Events) and POST /api/search."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag_chatbot.answering.base import Restart
from rag_chatbot.answering.chat import Question, Reply, ReplyItem
from rag_chatbot.api.errors import stream_error
from rag_chatbot.api.openapi import errors
from rag_chatbot.api.schemas import ChatRequest, SearchRequest
from rag_chatbot.api.security import CLIENT_TOKEN_HEADER, ChatCallerDep, Principal
from rag_chatbot.dependencies import AnswerThreadsDep, QuestionServiceDep, RetrieverDep
from rag_chatbot.serving.streaming import relay
from rag_chatbot.wire import ChatResponse, SearchResponse, chat_json, search_json

router = APIRouter(prefix="/api", tags=["chat"])


@router.post("/search", response_model=SearchResponse, responses=errors(503))
def search(body: SearchRequest, retriever: RetrieverDep) -> dict[str, object]:
    """Ranked passages for a query (hybrid retrieval, no answer)."""
    hits = retriever.retrieve(body.query, body.top_k).hits
    return search_json(hits)


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(404)},
)
async def chat(
    body: ChatRequest,
    request: Request,
    questions: QuestionServiceDep,
    caller: ChatCallerDep,
    threads: AnswerThreadsDep,
) -> object:
    """Answer a question in a session; SSE with ``stream: true`` or ``Accept: text/event-stream``.

    The stream sends ``delta`` events (the answer's text as it is written), a ``restart``
    event if the model failed mid-answer (the text so far is withdrawn; the fallback's
    follows), and ends with one ``answer`` event holding the same object as the JSON
    response — or, if it fails after it started, an ``error`` event with the error body
    (``detail``, ``error_code``, ``timestamp``). The session belongs to the caller: a user, or
    the browser's ``X-Client-Token`` (minted and returned in that response header when the
    request had none).
    """
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    asked = Question(
        body.message,
        selected_text=body.selected_text,
        session_id=body.session_id,
        owner=caller.owner,
        store=True,
    )
    if not wants_stream:
        # A cached answer to a first question is served on the event loop (no thread hop).
        reply = await questions.cached_reply(asked)
        if reply is None:
            reply = await threads.run(lambda: questions.ask(asked))
        return JSONResponse(_reply_json(reply), headers=_identity_headers(caller))
    # Two trips through the thread pool: retrieval and the first item, then the rest, made in
    # one go (``serving.streaming``). Session, question and retrieval are checked in the first, so
    # their errors still get an HTTP status; and the first event goes out before the rest of
    # the stream competes with other questions for the cores.
    first, rest = await threads.run(lambda: _started(questions.stream(asked)))
    return StreamingResponse(
        _events(first, relay(lambda: rest, threads.run)),
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


def _started(items: Iterator[ReplyItem]) -> tuple[ReplyItem | None, Iterator[ReplyItem]]:
    """The first item (None for an empty stream) and the iterator, which goes on after it."""
    return next(items, None), items


async def _events(first: ReplyItem | None, rest: AsyncIterator[ReplyItem]) -> AsyncIterator[str]:
    """SSE events for ``first``, then for each item of ``rest`` as it comes."""
    if first is not None:
        yield _event(first)
    try:
        async for item in rest:
            yield _event(item)
    except Exception as exc:  # the response has started: report in the stream, then end it
        yield _sse("error", stream_error(exc))


def _event(item: ReplyItem) -> str:
    if isinstance(item, str):
        return _sse("delta", {"text": item})
    if isinstance(item, Restart):
        return _sse("restart", {"reason": item.reason})
    return _sse("answer", _reply_json(item))


def _reply_json(reply: Reply) -> dict[str, object]:
    """The answer object of a stored question (it always is here: ``store=True``)."""
    assert reply.session_id is not None and reply.message_id is not None
    return chat_json(
        reply.answer, reply.session_id, reply.message_id, reply.latency_ms, reply.cached
    )


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
