"""ChatRepository: conversations (sessions), their messages and readers' feedback on answers.

Every write is one transaction; the reads, and the rule of whose a session is, are
``ChatQueries``'s (``db.chat_queries``). Rows come back detached (``expire_on_commit=False``),
so callers read their attributes freely but do not lazy-load relationships from them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.asked import forget_sessions
from rag_chatbot.db.chat_queries import ChatQueries
from rag_chatbot.db.checkpoint import wal_checkpointer
from rag_chatbot.db.engine import write_lock
from rag_chatbot.db.exchanges import (
    Exchange,
    ExchangeWriter,
    Stored,
    message_time,
    session_title,
)
from rag_chatbot.db.models import FeedbackRow, MessageRow, QuestionRow, SessionRow, utcnow
from rag_chatbot.db.redaction import redact_secrets
from rag_chatbot.errors import InvalidInput, NotFound, SessionNotFound

ROLES = frozenset({"user", "assistant", "system"})
_TITLE_MAX_CHARS = 200  # the column's size
_OWNER_MAX_CHARS = 128  # the column's size


class ChatRepository(ChatQueries):
    """Reads (``ChatQueries``) and writes ``sessions``, ``messages`` and ``feedback``.

    Writes share the database's write lock, and questions with their answers go through the
    group-commit ``ExchangeWriter``.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(sessions)
        self._engine: Engine = sessions.kw["bind"]
        self._writing = write_lock(self._engine)
        self._exchanges = ExchangeWriter(
            self._engine, self._writing, checkpointer=wal_checkpointer(self._engine)
        )

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, owner: str | None, title: str = "") -> SessionRow:
        """Start a conversation. ``title`` is trimmed to 200 characters; empty is allowed and
        filled from the first question (``add_message``). A too-long owner is ``InvalidInput``.
        """
        if owner is not None and len(owner) > _OWNER_MAX_CHARS:
            raise InvalidInput(f"owner is longer than {_OWNER_MAX_CHARS} characters")
        now = utcnow()
        row = SessionRow(
            id=str(uuid.uuid4()),
            owner=owner,
            title=title.strip()[:_TITLE_MAX_CHARS],
            created_at=now,
            updated_at=now,
        )
        with self._writing, self._sessions.begin() as session:
            session.add(row)
        return row

    def delete_session(self, session_id: str) -> bool:
        """Delete a session with its messages, their feedback and its questions' analytics
        record; ``False`` if it did not exist."""
        message_ids = select(MessageRow.id).where(MessageRow.session_id == session_id)
        with self._writing, self._sessions.begin() as session:
            # Explicit rather than relying on ON DELETE CASCADE: SQLite only cascades when the
            # connection enabled foreign keys, and an engine built elsewhere may not have.
            forget_sessions(session, QuestionRow.session_id == session_id)
            session.execute(delete(FeedbackRow).where(FeedbackRow.message_id.in_(message_ids)))
            session.execute(delete(MessageRow).where(MessageRow.session_id == session_id))
            deleted = session.execute(delete(SessionRow).where(SessionRow.id == session_id))
            return bool(getattr(deleted, "rowcount", 0))

    # -- messages ---------------------------------------------------------------------------

    def add_message(
        self,
        session_id: str,
        role: str,
        content: str,
        *,
        citations: Sequence[Mapping[str, Any]] = (),
        grounded: bool | None = None,
        latency_ms: float | None = None,
        generator: str | None = None,
    ) -> MessageRow:
        """Append a message and mark the session active; return the stored row.

        The first user message names an untitled session (its first 80 characters). Messages
        of a session get strictly increasing ``created_at``, so their order is their order of
        arrival even within one clock tick. A question (role ``user``) is stored with obvious
        secrets redacted (``db.redaction``). Raises ``SessionNotFound`` for an unknown session and
        ``InvalidInput`` for a role outside ``ROLES``.
        """
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {sorted(ROLES)}, not {role!r}")
        if role == "user":
            content = redact_secrets(content)
        with self._writing, self._sessions.begin() as session:
            conversation = session.get(SessionRow, session_id)
            if conversation is None:
                raise SessionNotFound(f"session {session_id} not found")
            last = session.scalar(
                select(func.max(MessageRow.created_at)).where(MessageRow.session_id == session_id)
            )
            now = message_time(last)
            row = MessageRow(
                id=str(uuid.uuid4()),
                session_id=session_id,
                role=role,
                content=content,
                citations=[dict(c) for c in citations],
                grounded=grounded,
                latency_ms=latency_ms,
                generator=generator,
                created_at=now,
            )
            session.add(row)
            if role == "user" and not conversation.title:
                conversation.title = session_title(content)
            conversation.updated_at = now
        return row

    def add_exchange(
        self,
        session_id: str | None,
        owner: str | None,
        question: str,
        answer: str,
        *,
        citations: Sequence[Mapping[str, Any]] = (),
        grounded: bool | None = None,
        latency_ms: float | None = None,
        generator: str | None = None,
    ) -> tuple[str, str]:
        """Store a question and its answer in one transaction; return (session id, answer id).

        ``session_id=None`` starts a session owned by ``owner``, titled by the question. The
        same rules as two ``add_message`` calls (order, title, activity), at a fraction of the
        cost: answering from the cache is mostly this write (see ``save``).
        """
        stored = self.save(
            Exchange(
                session_id,
                owner,
                question,
                answer,
                citations=citations,
                grounded=grounded,
                latency_ms=latency_ms,
                generator=generator,
            )
        )
        return stored.session_id, stored.message_id

    def save(self, exchange: Exchange) -> Stored:
        """Store ``exchange`` (see ``add_exchange``), committed with whatever else is queued.

        Blocks until committed. Raises ``SessionNotFound``, ``StaleIndex``, ``InvalidInput``
        for a too-long owner, or the database's error — only for this exchange.
        """
        return self._submit(exchange).result()

    async def asave(self, exchange: Exchange) -> Stored:
        """``save`` for the event loop: awaits the commit without holding a worker thread."""
        return await asyncio.wrap_future(self._submit(exchange))

    def _submit(self, exchange: Exchange) -> Future[Stored]:
        if exchange.owner is not None and len(exchange.owner) > _OWNER_MAX_CHARS:
            raise InvalidInput(f"owner is longer than {_OWNER_MAX_CHARS} characters")
        return self._exchanges.submit(exchange)

    # -- feedback ---------------------------------------------------------------------------

    def set_feedback(self, message_id: str, rating: int, comment: str | None = None) -> FeedbackRow:
        """Record a reader's rating of an answer, replacing any earlier one for that message.

        ``rating`` is +1 or -1, else ``InvalidInput``; only assistant messages can be rated
        (``InvalidInput``); an unknown message is ``NotFound``. Nothing is written on error.
        """
        if isinstance(rating, bool) or rating not in (1, -1):
            raise InvalidInput(f"rating must be 1 or -1, not {rating!r}")
        try:
            return self._upsert_feedback(message_id, rating, comment)
        except IntegrityError:
            # Another request inserted this message's feedback first: now it is an update.
            return self._upsert_feedback(message_id, rating, comment)

    def _upsert_feedback(self, message_id: str, rating: int, comment: str | None) -> FeedbackRow:
        with self._writing, self._sessions.begin() as session:
            message = session.get(MessageRow, message_id)
            if message is None:
                raise NotFound(f"message {message_id} not found")
            if message.role != "assistant":
                raise InvalidInput("only answers (assistant messages) can be rated")
            row = session.scalar(select(FeedbackRow).where(FeedbackRow.message_id == message_id))
            if row is None:
                row = FeedbackRow(id=str(uuid.uuid4()), message_id=message_id, created_at=utcnow())
                session.add(row)
            row.rating = rating
            row.comment = comment
        return row
