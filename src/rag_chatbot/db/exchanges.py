"""ExchangeWriter: questions and their answers stored by one thread, many per transaction.

Every answered question — from the response cache too — is two messages and a new or touched
session. One transaction each made the write most of a cached answer's cost (and on SQLite,
where one writer goes at a time, a queue). Instead each ``ChatRepository`` has one writer
thread: callers hand it an ``Exchange`` and wait on a future; the thread commits whatever has
queued meanwhile in one transaction (group commit), then resolves each future. A reply is
therefore still sent only once its exchange is committed.

Failures stay with their own exchange: an unknown session fails that exchange alone, and when
the whole transaction fails, each exchange of the batch is retried in a transaction of its own,
so only the ones that fail by themselves report an error and none of the others is lost.

An exchange may carry the ``index_version`` its (cached) answer was looked up under; it is
stored only if the index is still at that version when the batch is written, else it fails with
``StaleIndex`` (nothing stored). Versions only go up, so an equal version means no document
changed between the look-up and the write: the answer was current when it was served.

The question is stored with obvious secrets redacted (``db.redaction``): in its message, in the
session's title and in the analytics record written beside them (``db.asked``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from rag_chatbot.db.asked import asked_rows
from rag_chatbot.db.checkpoint import WalCheckpointer
from rag_chatbot.db.models import (
    IndexStateRow,
    MessageRow,
    QuestionRow,
    QuestionSourceRow,
    SessionRow,
    utcnow,
)
from rag_chatbot.db.redaction import redact_secrets
from rag_chatbot.errors import RagChatbotError, SessionNotFound

log = logging.getLogger(__name__)
TITLE_FROM_MESSAGE_CHARS = 80
TICK = timedelta(microseconds=1)  # what keeps a session's message times strictly increasing
_SESSIONS = cast(Table, SessionRow.__table__)
_MESSAGES = cast(Table, MessageRow.__table__)
_INDEX_STATE = cast(Table, IndexStateRow.__table__)
_QUESTIONS = cast(Table, QuestionRow.__table__)
_QUESTION_SOURCES = cast(Table, QuestionSourceRow.__table__)


def session_title(question: str) -> str:
    """The title an untitled session takes from its first question: its start, spaces folded."""
    return " ".join(question.split())[:TITLE_FROM_MESSAGE_CHARS].rstrip()


def message_time(last: datetime | None) -> datetime:
    """The time of a session's next message, whose latest so far is at ``last``.

    Now, or one ``TICK`` after ``last`` when the clock has not passed it: within one clock
    tick too, a session's messages are in their order of arrival. The storage rules of
    messages (this and ``session_title``) serve ``ExchangeWriter`` and
    ``ChatRepository.add_message`` alike.
    """
    now = utcnow()
    return last + TICK if last is not None and now <= last else now


class StaleIndex(RagChatbotError):
    """The index changed since the answer was looked up; nothing was stored."""

    def __init__(self, current_version: str) -> None:
        super().__init__(f"the index is at version {current_version} now")
        self.current_version = current_version


@dataclass(frozen=True)
class Exchange:
    """A question and its answer, for a session (``None``: a new one owned by ``owner``)."""

    session_id: str | None
    owner: str | None
    question: str
    answer: str
    citations: Sequence[Mapping[str, Any]] = ()
    grounded: bool | None = None
    latency_ms: float | None = None
    generator: str | None = None
    index_version: str | None = None  # store only while the index is at this version
    cached: bool = False  # answered from the response cache
    confidence: float | None = None


@dataclass(frozen=True)
class Stored:
    """Where an exchange went, and the index version seen when it was committed."""

    session_id: str
    message_id: str  # the answer's
    index_version: str


@dataclass
class _Batch:
    """The rows of one transaction, built exchange by exchange."""

    version: str
    titles: dict[str, str]  # existing sessions: id -> title
    last: dict[str, datetime]  # their latest message time
    new_sessions: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


class ExchangeWriter:
    """The writer thread of one engine (see module doc); started on demand, ends when idle.

    ``lock`` is held around each transaction (``db.engine.write_lock``: SQLite's turn);
    ``checkpointer`` takes SQLite's WAL checkpoints off these commits (``db.checkpoint``).
    """

    def __init__(
        self,
        engine: Engine,
        lock: Any,
        *,
        checkpointer: WalCheckpointer | None = None,
        max_batch: int = 256,
        idle_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self._lock = lock
        self._checkpointer = checkpointer
        self._max_batch = max_batch
        self._idle_seconds = idle_seconds
        self._wake = threading.Condition()
        self._queue: list[tuple[Exchange, Future[Stored]]] = []
        self._running = False

    def submit(self, exchange: Exchange) -> Future[Stored]:
        """Queue ``exchange``; the future holds its ``Stored``, or the error that stopped it."""
        future: Future[Stored] = Future()
        with self._wake:
            self._queue.append((exchange, future))
            if self._running:
                self._wake.notify()
            else:
                self._running = True
                threading.Thread(target=self._run, name="history-writer", daemon=True).start()
        return future

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._queue:
                    self._wake.wait(self._idle_seconds)
                if not self._queue:
                    self._running = False
                    return
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            # A future cancelled while queued (its request went away) is not written.
            live = [item for item in batch if item[1].set_running_or_notify_cancel()]
            try:
                self._write(live)
            except BaseException as exc:  # the thread dies: nobody may wait forever
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                with self._wake:
                    self._running = False  # the next submit starts another thread
                raise

    def _write(self, batch: list[tuple[Exchange, Future[Stored]]]) -> None:
        if not batch:
            return
        try:
            outcomes = self._commit([exchange for exchange, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                outcomes = [exc]
            else:  # find the exchange(s) at fault: each alone, in its own transaction
                log.warning("history_batch_failed", extra={"exchanges": len(batch)})
                outcomes = [self._commit_alone(exchange) for exchange, _ in batch]
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _commit_alone(self, exchange: Exchange) -> Stored | Exception:
        try:
            return self._commit([exchange])[0]
        except Exception as exc:
            return exc

    def _commit(self, exchanges: list[Exchange]) -> list[Stored | Exception]:
        """One transaction for ``exchanges``; per exchange, where it went or why it did not."""
        with (
            self._lock,
            self._engine.connect() as connection,
            self._checkpointer.deferred(connection) if self._checkpointer else nullcontext(),
            connection.begin(),
        ):
            batch = _read_state(connection, exchanges)
            outcomes = [_add(batch, exchange) for exchange in exchanges]
            if batch.new_sessions:
                connection.execute(insert(_SESSIONS), batch.new_sessions)
            if batch.touched:
                connection.execute(
                    update(_SESSIONS)
                    .where(_SESSIONS.c.id == bindparam("touched_id"))
                    .values(title=bindparam("new_title"), updated_at=bindparam("new_updated")),
                    list(batch.touched.values()),
                )
            if batch.messages:
                connection.execute(insert(_MESSAGES), batch.messages)
            if batch.questions:
                connection.execute(insert(_QUESTIONS), batch.questions)
            if batch.sources:
                connection.execute(insert(_QUESTION_SOURCES), batch.sources)
        return outcomes


def _read_state(connection: Connection, exchanges: list[Exchange]) -> _Batch:
    """The index version, and the title and latest message time of each session named."""
    version = connection.scalar(select(_INDEX_STATE.c.version).where(_INDEX_STATE.c.id == 1))
    named = sorted({e.session_id for e in exchanges if e.session_id is not None})
    titles: dict[str, str] = {}
    last: dict[str, datetime] = {}
    if named:
        found = connection.execute(
            select(_SESSIONS.c.id, _SESSIONS.c.title).where(_SESSIONS.c.id.in_(named))
        )
        titles = {row.id: row.title for row in found}
        latest = connection.execute(
            select(_MESSAGES.c.session_id, func.max(_MESSAGES.c.created_at))
            .where(_MESSAGES.c.session_id.in_(list(titles)))
            .group_by(_MESSAGES.c.session_id)
        )
        last = {session_id: at for session_id, at in latest if at is not None}
    return _Batch(str(version or 0), titles, last)


def _add(batch: _Batch, exchange: Exchange) -> Stored | Exception:
    """Add ``exchange``'s rows to ``batch`` (the rules of ``ChatRepository.add_exchange``)."""
    if exchange.index_version is not None and exchange.index_version != batch.version:
        return StaleIndex(batch.version)
    question = redact_secrets(exchange.question)
    title = session_title(question)
    session_id = exchange.session_id
    if session_id is None:
        now = message_time(None)
        session_id = str(uuid.uuid4())
        batch.new_sessions.append(
            {"id": session_id, "owner": exchange.owner, "title": title}
            | {"created_at": now, "updated_at": now}
        )
    elif session_id not in batch.titles:
        return SessionNotFound(f"session {session_id} not found")
    else:
        now = message_time(batch.last.get(session_id))
        batch.titles[session_id] = batch.titles[session_id] or title
        batch.touched[session_id] = {
            "touched_id": session_id,
            "new_title": batch.titles[session_id],
            "new_updated": now + TICK,
        }
    batch.last[session_id] = now + TICK
    answer_id = str(uuid.uuid4())
    batch.messages += [
        _message_row(session_id, str(uuid.uuid4()), "user", question, now),
        _message_row(session_id, answer_id, "assistant", exchange.answer, now + TICK)
        | {
            "citations": [dict(c) for c in exchange.citations],
            "grounded": exchange.grounded,
            "latency_ms": exchange.latency_ms,
            "generator": exchange.generator,
        },
    ]
    asked, sources = asked_rows(
        answer_id,
        session_id,
        exchange.owner,
        question,
        at=now + TICK,
        grounded=exchange.grounded,
        cached=exchange.cached,
        confidence=exchange.confidence,
        latency_ms=exchange.latency_ms,
        citations=exchange.citations,
    )
    batch.questions.append(asked)
    batch.sources += sources
    return Stored(session_id, answer_id, batch.version)


def _message_row(
    session_id: str, message_id: str, role: str, content: str, at: datetime
) -> dict[str, Any]:
    return {
        "id": message_id,
        "session_id": session_id,
        "role": role,
        "content": content,
        "citations": [],
        "grounded": None,
        "latency_ms": None,
        "generator": None,
        "created_at": at,
    }
