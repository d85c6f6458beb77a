"""ChatService: a question in a session — answered, timed and stored with its answer."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.answering.conversation import standalone_query
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.domain import Answer
from rag_chatbot.errors import SessionNotFound
from rag_chatbot.observability.metrics import record_chat

HISTORY_TURNS = 6
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatReply:
    """An answer with where it was stored."""

    answer: Answer
    session_id: str
    message_id: str
    latency_ms: float

    def as_dict(self) -> dict[str, object]:
        """The ``/api/chat`` response object (contract)."""
        return {
            "answer": self.answer.answer,
            "session_id": self.session_id,
            "message_id": self.message_id,
            "grounded": self.answer.grounded,
            "citations": [asdict(c) for c in self.answer.citations],
            "generator": self.answer.generator,
            "latency_ms": round(self.latency_ms, 1),
        }


class ChatService:
    """Answers in the context of a session and stores both the question and the answer.

    Contract: ``chat`` creates the session when ``session_id`` is None, raises
    ``SessionNotFound`` for an unknown id, and stores the user message and
    the assistant message (with citations, grounded, latency and generator) before returning.
    Nothing is stored when the question is invalid (``InvalidInput`` from the answerer).
    """

    def __init__(self, answerer: Answerer, chats: ChatRepository) -> None:
        self._answerer = answerer
        self._chats = chats

    def chat(
        self,
        message: str,
        *,
        session_id: str | None = None,
        selected_text: str | None = None,
        owner: str | None = None,
    ) -> ChatReply:
        started = time.perf_counter()
        previous: list[str] = []
        if session_id is not None:
            if self._chats.get_session(session_id) is None:
                raise SessionNotFound(f"session {session_id} not found")
            history = self._chats.recent_messages(session_id, HISTORY_TURNS)
            previous = [m.content for m in history if m.role == "user"]
        answer = self._answerer.ask(
            message, selected_text, retrieval_query=standalone_query(message, previous)
        )
        latency_ms = (time.perf_counter() - started) * 1000
        if session_id is None:
            session_id = self._chats.create_session(owner, title="").id
        self._chats.add_message(session_id, "user", message.strip())
        stored = self._chats.add_message(
            session_id,
            "assistant",
            answer.answer,
            citations=[asdict(c) for c in answer.citations],
            grounded=answer.grounded,
            latency_ms=latency_ms,
            generator=answer.generator,
        )
        record_chat(answer.grounded)
        log.debug("chat_question", extra={"session_id": session_id, "question": message})
        log.info(
            "chat_request",
            extra={
                "session_id": session_id,
                "message_id": stored.id,
                "grounded": answer.grounded,
                "citations": len(answer.citations),
                "generator": answer.generator,
                "response_time": round(latency_ms, 1),
            },
        )
        return ChatReply(answer, session_id, stored.id, latency_ms)
