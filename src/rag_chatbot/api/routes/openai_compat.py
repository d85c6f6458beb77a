"""OpenAI-compatible API: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Any OpenAI client can ask our documents: the last ``user`` message is the question, the
earlier ``user``/``assistant`` messages are the conversation (a follow-up is made standalone
for retrieval), ``system``/``developer`` messages are ignored (the grounded prompt is ours).
The answer carries ``[n]`` markers; the citations come back in extra top-level fields
``citations``, ``grounded``, ``confidence`` and ``generator`` (in the final chunk of a stream).
Nothing is stored: like OpenAI's API, the client sends the whole conversation each time. The
question takes the path of every other (``answering.chat``), the response cache included:
a question ``/api/chat`` answered is answered here from the cache, and the other way round.
Callers authenticate with ``Authorization: Bearer`` — a user's access token or ADMIN_TOKEN.
Errors have the API's usual fields plus OpenAI's ``error`` object, which OpenAI clients show.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from rag_chatbot.answering.answerer import MAX_QUESTION_CHARS
from rag_chatbot.answering.base import Restart, Turn
from rag_chatbot.answering.chat import Question, ReplyItem
from rag_chatbot.api.errors import stream_error
from rag_chatbot.api.openapi import BEARER, errors
from rag_chatbot.api.security import Principal, PrincipalDep
from rag_chatbot.api.storable import StorableBody
from rag_chatbot.dependencies import AnswerThreadsDep, QuestionServiceDep
from rag_chatbot.domain import Answer
from rag_chatbot.errors import InvalidInput, NotFound, RagChatbotError, Unauthorized
from rag_chatbot.serving.streaming import relay
from rag_chatbot.wire import citations_json

MODEL_ID = "rag-chatbot"
MAX_MESSAGES = 100
RESTART_NOTE = "\n\n(The language model failed mid-answer; an extractive answer follows.)\n\n"


class _WithOpenAIErrors(APIRoute):
    """Adds OpenAI's ``{"error": {"message", "type", "code"}}`` to this router's error bodies.

    The app's handlers still make the response (status, headers, the contract fields).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (RagChatbotError, RequestValidationError, HTTPException) as exc:
                return await _openai_error(request, exc)

        return route


async def _openai_error(request: Request, exc: Exception) -> Response:
    handlers = request.app.exception_handlers
    handle = next(handlers[cls] for cls in type(exc).__mro__ if cls in handlers)
    response: Response = await handle(request, exc)
    body = json.loads(bytes(response.body))
    kind = "server_error" if response.status_code >= 500 else "invalid_request_error"
    body["error"] = {"message": body["detail"], "type": kind, "code": body["error_code"]}
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return JSONResponse(body, status_code=response.status_code, headers=headers)


router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=_WithOpenAIErrors)


class ContentPart(StorableBody):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class ChatMessageIn(StorableBody):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionRequest(StorableBody):
    """OpenAI's request body; sampling options (temperature, max_tokens, ...) are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)
    model: str = Field(examples=[MODEL_ID], description=f"{MODEL_ID!r}, as GET /v1/models says.")
    messages: list[ChatMessageIn] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        description="The conversation; the last message is the user's question, with text "
        f"(at most {MAX_QUESTION_CHARS} characters).",
    )
    stream: bool = False


class CitedFields(BaseModel):
    """The extra fields of our completions (documented in docs/llm.md)."""

    citations: list[dict[str, Any]]
    grounded: bool
    confidence: float | None
    generator: str


@router.get("/models", openapi_extra={"security": BEARER})
def models(questions: QuestionServiceDep, caller: PrincipalDep) -> dict[str, object]:
    """The one model: our RAG over the indexed documents, answered by the configured generator."""
    _require_token(caller)
    return {
        "object": "list",
        "data": [
            {
                "id": MODEL_ID,
                "object": "model",
                "created": 0,
                "owned_by": "rag-chatbot",
                "generator": questions.generator,
            }
        ],
    }


@router.post(
    "/chat/completions",
    responses={200: {"content": {"text/event-stream": {}, "application/json": {}}}, **errors(404)},
    openapi_extra={"security": BEARER},
)
async def chat_completions(
    body: ChatCompletionRequest,
    questions: QuestionServiceDep,
    caller: PrincipalDep,
    threads: AnswerThreadsDep,
) -> object:
    """Answer the conversation's last user message from the documents (JSON or SSE)."""
    _require_token(caller)
    if body.model != MODEL_ID:
        raise NotFound(f"model {body.model!r} not found; GET /v1/models lists {MODEL_ID!r}")
    question, history = _conversation(body.messages)
    asked = Question(question, history=history, api="openai")
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if not body.stream:
        reply = await threads.run(lambda: questions.ask(asked))
        return _completion(completion_id, reply.answer)
    items = await threads.run(lambda: questions.stream(asked))
    return StreamingResponse(
        # The rest of the stream in one capped thread trip, each chunk posted as it is made
        # (``serving.streaming.relay``), not one trip through the default pool per chunk.
        relay(lambda: _chunks(completion_id, items), threads.run),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _require_token(caller: Principal) -> None:
    if caller.kind == "anonymous":
        raise Unauthorized("send 'Authorization: Bearer <access token or ADMIN_TOKEN>'")


def _conversation(messages: list[ChatMessageIn]) -> tuple[str, list[Turn]]:
    """The question (the last message, a user's) and the turns before it."""
    if messages[-1].role != "user":
        raise InvalidInput("messages: the last message must be the user's question")
    question = messages[-1].text.strip()
    if not question:
        raise InvalidInput("messages: the last user message has no text")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"messages: the question is longer than {MAX_QUESTION_CHARS} characters")
    history = [
        Turn("user" if m.role == "user" else "assistant", m.text)
        for m in messages[:-1]
        if m.role in ("user", "assistant") and m.text.strip()
    ]
    return question, history


def _cited(answer: Answer) -> dict[str, Any]:
    return CitedFields(
        citations=citations_json(answer.citations),
        grounded=answer.grounded,
        confidence=answer.confidence,
        generator=answer.generator,
    ).model_dump()


def _completion(completion_id: str, answer: Answer) -> dict[str, object]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": "stop",
            }
        ],
        **_cited(answer),
    }


def _chunks(completion_id: str, items: Iterator[ReplyItem]) -> Iterator[str]:
    """OpenAI's chunk stream: a role delta, content deltas, a final chunk, ``[DONE]``."""
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for item in items:
            if isinstance(item, str):
                yield chunk({"content": item})
            elif isinstance(item, Restart):
                yield chunk({"content": RESTART_NOTE})
            else:
                yield chunk({}, "stop", **_cited(item.answer))
    except Exception as exc:  # the response has started: OpenAI's in-stream error
        body = stream_error(exc)
        error = {"message": body["detail"], "type": "server_error", "code": body["error_code"]}
        yield f"data: {json.dumps({**body, 'error': error})}\n\n"
    yield "data: [DONE]\n\n"
