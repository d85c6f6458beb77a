"""ChatService: a question in a session — answered, timed and stored with its answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.answering.base import Restart, StreamItem, Turn, stream_finished
from rag_chatbot.answering.conversation import QueryRewriter, RuleRewriter
from rag_chatbot.cache import ResponseCache
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.exchanges import Exchange, StaleIndex, Stored
from rag_chatbot.domain import Answer
from rag_chatbot.observability.metrics import record_chat
from rag_chatbot.wire import citations_json

HISTORY_TURNS = 6
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatReply:
    """An answer with where it was stored."""

    answer: Answer
    session_id: str
    message_id: str
    latency_ms: float
    cached: bool = False


class ChatService:
    """Answers in the context of a session and stores both the question and the answer.

    Contract: ``chat`` creates the session (owned by ``owner``) when ``session_id`` is None,
    raises ``SessionNotFound`` for an unknown id or a session of another owner, and stores the
    user message and the assistant message (with citations, grounded, latency and generator)
    before returning — also when the answer came from the response cache. Nothing is stored
    when the question is invalid (``InvalidInput`` from the answerer).

    ``stream`` does the same while the answer is written: it yields text pieces (and a
    ``Restart`` if the model failed mid-answer), then the ``ChatReply``. Session, question and
    retrieval are checked before it returns; the messages are stored when the answer is done
    (not at all if the caller stops reading first). ``rewriter`` makes follow-ups standalone
    for retrieval; the generator gets the question as asked, with the earlier turns.
    """

    def __init__(
        self,
        answerer: Answerer,
        chats: ChatRepository,
        cache: ResponseCache | None = None,
        rewriter: QueryRewriter | None = None,
    ) -> None:
        self._answerer = answerer
        self._chats = chats
        self._cache = cache
        self._rewriter = rewriter or RuleRewriter()

    def chat(
        self,
        message: str,
        *,
        session_id: str | None = None,
        selected_text: str | None = None,
        owner: str | None = None,
    ) -> ChatReply:
        started = time.perf_counter()
        history = self._history(session_id, owner)
        query = self._rewriter.rewrite(message, history)
        answer, cached = self._answer(message, selected_text, query, history)
        return self._store(message, answer, session_id, owner, started, cached)

    def stream(
        self,
        message: str,
        *,
        session_id: str | None = None,
        selected_text: str | None = None,
        owner: str | None = None,
    ) -> Iterator[str | Restart | ChatReply]:
        started = time.perf_counter()
        history = self._history(session_id, owner)
        query = self._rewriter.rewrite(message, history)
        key, found = self._lookup(message, selected_text, query)
        if found is not None:
            items = stream_finished(found)
        else:
            items = self._answerer.stream(
                message, selected_text, retrieval_query=query, history=history
            )
        return self._streamed(items, message, session_id, owner, started, key, found is not None)

    def _streamed(
        self,
        items: Iterator[StreamItem],
        message: str,
        session_id: str | None,
        owner: str | None,
        started: float,
        key: str | None,
        cached: bool,
    ) -> Iterator[str | Restart | ChatReply]:
        for item in items:
            if not isinstance(item, Answer):
                yield item
                continue
            if not cached:
                self._keep(key, item)
            yield self._store(message, item, session_id, owner, started, cached)

    def _history(self, session_id: str | None, owner: str | None) -> list[Turn]:
        """The session's recent turns, oldest first; ``SessionNotFound`` if not the owner's."""
        if session_id is None:
            return []
        self._chats.owned_session(session_id, owner)
        recent = self._chats.recent_messages(session_id, HISTORY_TURNS)
        return [Turn("user" if m.role == "user" else "assistant", m.content) for m in recent]

    def _store(
        self,
        message: str,
        answer: Answer,
        session_id: str | None,
        owner: str | None,
        started: float,
        cached: bool,
    ) -> ChatReply:
        exchange = self._exchange(message, answer, session_id, owner, started)
        return self._reply(self._chats.save(exchange), answer, exchange, cached)

    async def cached_reply(
        self, message: str, *, selected_text: str | None = None, owner: str | None = None
    ) -> ChatReply | None:
        """The reply to a first question (no session yet) whose answer is cached, stored as
        ``chat`` stores it; ``None`` otherwise — then ask ``chat``.

        For the event loop: nothing here blocks or takes a worker thread. The key uses the
        index version last seen, and the history write stores the exchange only if the index
        is still at that version (``StaleIndex``: ``None``). A miss is left uncounted: ``chat``
        looks the question up again and counts it.
        """
        version = self._cache.latest_version if self._cache is not None else None
        if self._cache is None or version is None:
            return None
        started = time.perf_counter()
        query = self._rewriter.rewrite(message, [])
        key = self._cache_key(message, selected_text, query, version)
        found = None if key is None else await self._cache.aget(key, count_miss=False)
        if found is None:
            return None
        exchange = self._exchange(message, found, None, owner, started, version)
        try:
            stored = await self._chats.asave(exchange)
        except StaleIndex as exc:
            self._cache.saw_version(exc.current_version)
            return None
        return self._reply(stored, found, exchange, cached=True)

    def _exchange(
        self,
        message: str,
        answer: Answer,
        session_id: str | None,
        owner: str | None,
        started: float,
        index_version: str | None = None,
    ) -> Exchange:
        return Exchange(
            session_id,
            owner,
            message.strip(),
            answer.answer,
            citations=citations_json(answer.citations),
            grounded=answer.grounded,
            latency_ms=(time.perf_counter() - started) * 1000,
            generator=answer.generator,
            index_version=index_version,
        )

    def _reply(self, stored: Stored, answer: Answer, exchange: Exchange, cached: bool) -> ChatReply:
        if self._cache is not None:
            self._cache.saw_version(stored.index_version)
        latency_ms = exchange.latency_ms or 0.0
        record_chat(answer.grounded)
        log.debug(
            "chat_question", extra={"session_id": stored.session_id, "question": exchange.question}
        )
        log.info(
            "chat_request",
            extra={
                "session_id": stored.session_id,
                "message_id": stored.message_id,
                "grounded": answer.grounded,
                "citations": len(answer.citations),
                "generator": answer.generator,
                "response_time": round(latency_ms, 1),
                "cached": cached,
            },
        )
        return ChatReply(answer, stored.session_id, stored.message_id, latency_ms, cached)

    def warm(self, question: str) -> bool:
        """Cache the answer to ``question`` asked first in a conversation; ``False`` if cached.

        Nothing is stored in any session. ``InvalidInput`` for an unfit question.
        """
        if self._cache is None or not self._cache.enabled:
            return False
        key = self._cache.key(
            question, query=question, selected_text=None, generator=self._answerer.generator_name
        )
        if self._cache.contains(key):
            return False
        self._keep(key, self._answerer.ask(question))
        return True

    def _answer(
        self, message: str, selected_text: str | None, query: str, history: list[Turn]
    ) -> tuple[Answer, bool]:
        """The answer and whether it came from the cache (looked up, else computed and kept)."""
        key, found = self._lookup(message, selected_text, query)
        if found is not None:
            return found, True
        answer = self._answerer.ask(message, selected_text, retrieval_query=query, history=history)
        self._keep(key, answer)
        return answer, False

    def _lookup(
        self, message: str, selected_text: str | None, query: str
    ) -> tuple[str | None, Answer | None]:
        """The cache key for this question and the answer cached under it, if any."""
        key = self._cache_key(message, selected_text, query)
        if self._cache is None or key is None:
            return key, None
        return key, self._cache.get(key)

    def _cache_key(
        self, message: str, selected_text: str | None, query: str, version: str | None = None
    ) -> str | None:
        """The response cache's key for this question; None when nothing is cached."""
        if self._cache is None or not self._cache.enabled or not message.strip():
            return None
        return self._cache.key(
            message,
            query=query,
            selected_text=selected_text,
            generator=self._answerer.generator_name,
            version=version,
        )

    def _keep(self, key: str | None, answer: Answer) -> None:
        # A fallback's stopgap answer (another generator name) is not kept.
        if self._cache is not None and key is not None and answer.generator == self.generator:
            self._cache.put(key, answer)

    @property
    def generator(self) -> str:
        return self._answerer.generator_name
