"""QuestionService: the one path of a question, whoever asks it.

``/api/chat`` (JSON and SSE), ``/v1/chat/completions`` (JSON and SSE), ``rag-chatbot ask``
(one question or a batch) and the cache warmer all come here:

    rewrite -> response cache -> retrieve and generate (``Answerer``) -> keep in the cache
            -> store in a session (only when asked to) -> metrics and the ``chat_request`` line

so a change to how questions are answered is made once, and every entry point shares the
response cache. Storage is optional: a question without ``store`` touches no session, which
keeps the command line light (the database is read for the index version only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
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
class Question:
    """A question as an entry point hands it over.

    ``history``: the conversation so far, when the caller holds it (OpenAI's clients send it
    each time). ``session_id``: a stored conversation of ``owner``'s instead, whose last turns
    are the history. ``store``: keep the question and its answer in that session (a new one of
    ``owner``'s when ``session_id`` is None). ``api`` tags the ``chat_request`` log line.
    """

    text: str
    selected_text: str | None = None
    history: Sequence[Turn] = ()
    session_id: str | None = None
    owner: str | None = None
    store: bool = False
    api: str | None = None


@dataclass(frozen=True)
class Reply:
    """An answer, where it was stored (None when not), how long it took, whether cached."""

    answer: Answer
    session_id: str | None
    message_id: str | None
    latency_ms: float
    cached: bool = False


ReplyItem = str | Restart | Reply


class QuestionService:
    """Answers questions (see module doc); ``chats`` is needed only for stored questions.

    Contract: ``ask`` returns the ``Reply``; raises ``InvalidInput`` for an unfit question
    (nothing stored), ``SessionNotFound`` for a session that is not ``owner``'s (one rule:
    ``ChatRepository.owned_session``). A stored question is stored with its answer before
    ``ask`` returns — also when the answer came from the response cache.

    ``stream`` does the same while the answer is written: it yields text pieces (and a
    ``Restart`` if the model failed mid-answer), then the ``Reply``. Session, question and
    retrieval are checked before it returns; the exchange is stored when the answer is done
    (not at all if the caller stops reading first). The rewriter makes a follow-up standalone
    for retrieval; the generator gets the question as asked, with the earlier turns.
    """

    def __init__(
        self,
        answerer: Answerer,
        cache: ResponseCache | None = None,
        rewriter: QueryRewriter | None = None,
        chats: ChatRepository | None = None,
    ) -> None:
        self._answerer = answerer
        self._cache = cache
        self._rewriter = rewriter or RuleRewriter()
        self._chats = chats

    @property
    def generator(self) -> str:
        return self._answerer.generator_name

    def ask(self, question: Question) -> Reply:
        started = time.perf_counter()
        history, query = self._prepared(question)
        key, answer = self._lookup(question, query)
        cached = answer is not None
        if answer is None:
            answer = self._answerer.ask(
                question.text, question.selected_text, retrieval_query=query, history=history
            )
            self._keep(key, answer)
        return self._finish(question, answer, started, cached, stream=False)

    def chat(
        self,
        text: str,
        *,
        session_id: str | None = None,
        selected_text: str | None = None,
        owner: str | None = None,
    ) -> Reply:
        """``ask`` a question in a session of ``owner``'s (a new one when None), stored."""
        asked = Question(
            text, selected_text=selected_text, session_id=session_id, owner=owner, store=True
        )
        return self.ask(asked)

    def stream(self, question: Question) -> Iterator[ReplyItem]:
        started = time.perf_counter()
        history, query = self._prepared(question)
        key, found = self._lookup(question, query)
        if found is not None:
            items = stream_finished(found)
        else:
            items = self._answerer.stream(
                question.text, question.selected_text, retrieval_query=query, history=history
            )
        return self._streamed(items, question, started, key, cached=found is not None)

    async def cached_reply(self, question: Question) -> Reply | None:
        """The reply to a stored first question (no session yet) whose answer is cached, stored
        as ``ask`` stores it; ``None`` otherwise — then ``ask``.

        For the event loop: nothing here blocks or takes a worker thread. The key uses the
        index version last seen, and the exchange is stored only if the index is still at
        that version (``StaleIndex``: ``None``), which is why an unstored question has no such
        shortcut. A miss is left uncounted: ``ask`` looks the question up again and counts it.
        """
        version = self._cache.latest_version if self._cache is not None else None
        first = question.store and question.session_id is None and not question.history
        if self._cache is None or version is None or not first or self._chats is None:
            return None
        started = time.perf_counter()
        query = self._rewriter.rewrite(question.text, [])
        key = self._key(question, query, version)
        found = None if key is None else await self._cache.aget(key, count_miss=False)
        if found is None:
            return None
        exchange = _exchange(question, found, started, version, cached=True)
        try:
            stored = await self._chats.asave(exchange)
        except StaleIndex as exc:
            self._cache.saw_version(exc.current_version)
            return None
        return self._replied(
            question, found, stored, exchange.latency_ms, cached=True, stream=False
        )

    def warm(self, text: str) -> bool:
        """Cache the answer to ``text`` asked first in a conversation; ``False`` if cached.

        Nothing is stored in any session, and it is no question asked (no ``chat_request``).
        ``InvalidInput`` for an unfit question.
        """
        if self._cache is None or not self._cache.enabled:
            return False
        question = Question(text)
        _, query = self._prepared(question)
        key = self._key(question, query)
        if key is not None and self._cache.contains(key):
            return False
        # A blank question has no key: asking it is what says why it is unfit.
        self._keep(key, self._answerer.ask(text, retrieval_query=query))
        return True

    def _prepared(self, question: Question) -> tuple[Sequence[Turn], str]:
        """The conversation before ``question`` and the standalone query to search."""
        history = question.history
        if question.session_id is not None:
            history = self._session_history(question.session_id, question.owner)
        return history, self._rewriter.rewrite(question.text, history)

    def _session_history(self, session_id: str, owner: str | None) -> list[Turn]:
        """The session's recent turns, oldest first; ``SessionNotFound`` if not ``owner``'s."""
        chats = self._storage()
        chats.owned_session(session_id, owner)
        recent = chats.recent_messages(session_id, HISTORY_TURNS)
        return [Turn("user" if m.role == "user" else "assistant", m.content) for m in recent]

    def _streamed(
        self,
        items: Iterator[StreamItem],
        question: Question,
        started: float,
        key: str | None,
        cached: bool,
    ) -> Iterator[ReplyItem]:
        for item in items:
            if not isinstance(item, Answer):
                yield item
                continue
            if not cached:
                self._keep(key, item)
            yield self._finish(question, item, started, cached, stream=True)

    def _finish(
        self, question: Question, answer: Answer, started: float, cached: bool, *, stream: bool
    ) -> Reply:
        """Store the exchange if asked to, then count and log the question."""
        if not question.store:
            latency_ms = (time.perf_counter() - started) * 1000
            return self._replied(question, answer, None, latency_ms, cached, stream)
        exchange = _exchange(question, answer, started, cached=cached)
        stored = self._storage().save(exchange)
        return self._replied(question, answer, stored, exchange.latency_ms, cached, stream)

    def _replied(
        self,
        question: Question,
        answer: Answer,
        stored: Stored | None,
        latency_ms: float | None,
        cached: bool,
        stream: bool,
    ) -> Reply:
        latency_ms = latency_ms or 0.0
        where: dict[str, object] = {}
        if stored is not None:
            if self._cache is not None:
                self._cache.saw_version(stored.index_version)
            where = {"session_id": stored.session_id, "message_id": stored.message_id}
        record_chat(answer.grounded)
        log.debug("chat_question", extra={**where, "question": question.text.strip()})
        log.info(
            "chat_request",
            extra={
                **({"api": question.api} if question.api else {}),
                **where,
                "grounded": answer.grounded,
                "citations": len(answer.citations),
                "generator": answer.generator,
                "response_time": round(latency_ms, 1),
                "cached": cached,
                "stream": stream,
            },
        )
        session_id, message_id = (stored.session_id, stored.message_id) if stored else (None, None)
        return Reply(answer, session_id, message_id, latency_ms, cached)

    def _lookup(self, question: Question, query: str) -> tuple[str | None, Answer | None]:
        """The cache key of this question and the answer cached under it, if any."""
        key = self._key(question, query)
        if self._cache is None or key is None:
            return key, None
        return key, self._cache.get(key)

    def _key(self, question: Question, query: str, version: str | None = None) -> str | None:
        if self._cache is None:
            return None
        return self._cache.key(
            question.text,
            query=query,
            selected_text=question.selected_text,
            generator=self.generator,
            version=version,
        )

    def _keep(self, key: str | None, answer: Answer) -> None:
        # A fallback's stopgap answer (another generator name) is not kept.
        if self._cache is not None and key is not None and answer.generator == self.generator:
            self._cache.put(key, answer)

    def _storage(self) -> ChatRepository:
        if self._chats is None:
            raise RuntimeError("this QuestionService stores no questions (no ChatRepository)")
        return self._chats


def _exchange(
    question: Question,
    answer: Answer,
    started: float,
    index_version: str | None = None,
    *,
    cached: bool = False,
) -> Exchange:
    return Exchange(
        question.session_id,
        question.owner,
        question.text.strip(),
        answer.answer,
        citations=citations_json(answer.citations),
        grounded=answer.grounded,
        latency_ms=(time.perf_counter() - started) * 1000,
        generator=answer.generator,
        index_version=index_version,
        cached=cached,
        confidence=answer.confidence,
    )
