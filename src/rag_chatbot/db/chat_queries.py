"""ChatQueries: the reads of conversations — whose a session is, listings, and analytics.

``ChatRepository`` (``db.chat``) adds the writes. Rows come back detached
(``expire_on_commit=False``), so callers read their attributes freely but do not lazy-load
relationships from them.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.models import FeedbackRow, MessageRow, SessionRow
from rag_chatbot.domain import normalize_question
from rag_chatbot.errors import NotFound, SessionNotFound


def _owned_by(owner: str | None) -> ColumnElement[bool]:
    """Sessions of exactly ``owner``: ``None`` means the sessions nobody owns, not everyone's."""
    return SessionRow.owner.is_(None) if owner is None else SessionRow.owner == owner


class ChatQueries:
    """Reads ``sessions``, ``messages`` and ``feedback``.

    Sessions belong to an ``owner`` (a user id or an anonymous browser token; ``None`` for
    sessions nobody owns). Who the caller is, is the API's to say; whether a session or a
    message is theirs is decided here, in one rule (``_owned_by``), by ``list_sessions``,
    ``owned_session`` and ``owned_message``: another's looks exactly like one that does not
    exist, so ids cannot be probed. ``get_session`` and ``get_message`` do not check.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- sessions and messages --------------------------------------------------------------

    def get_session(self, session_id: str) -> SessionRow | None:
        with self._sessions() as session:
            return session.get(SessionRow, session_id)

    def owned_session(self, session_id: str, owner: str | None) -> SessionRow:
        """The session, if ``owner``'s; else ``SessionNotFound``, as for one that does not exist."""
        query = select(SessionRow).where(SessionRow.id == session_id, _owned_by(owner))
        with self._sessions() as session:
            found = session.scalar(query)
        if found is None:
            raise SessionNotFound(f"session {session_id} not found")
        return found

    def owned_message(self, message_id: str, owner: str | None) -> MessageRow:
        """The message, if in a session of ``owner``'s; else ``NotFound``."""
        query = (
            select(MessageRow)
            .join(SessionRow, SessionRow.id == MessageRow.session_id)
            .where(MessageRow.id == message_id, _owned_by(owner))
        )
        with self._sessions() as session:
            found = session.scalar(query)
        if found is None:
            raise NotFound(f"message {message_id} not found")
        return found

    def list_sessions(
        self, owner: str | None, limit: int = 50, offset: int = 0
    ) -> list[SessionRow]:
        """The sessions of exactly ``owner``, most recently active first.

        ``owner=None`` lists the sessions that have no owner — not everyone's sessions.
        """
        query = (
            select(SessionRow)
            .where(_owned_by(owner))
            .order_by(SessionRow.updated_at.desc(), SessionRow.created_at.desc(), SessionRow.id)
        )
        with self._sessions() as session:
            return list(session.scalars(query.limit(limit).offset(offset)))

    def list_messages(self, session_id: str, limit: int = 200, offset: int = 0) -> list[MessageRow]:
        """A session's messages, oldest first."""
        query = (
            select(MessageRow)
            .where(MessageRow.session_id == session_id)
            .order_by(MessageRow.created_at, MessageRow.id)
            .limit(limit)
            .offset(offset)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def recent_messages(self, session_id: str, n: int) -> list[MessageRow]:
        """The last ``n`` messages of a session, oldest first (the context for a follow-up)."""
        if n <= 0:
            return []
        query = (
            select(MessageRow)
            .where(MessageRow.session_id == session_id)
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(n)
        )
        with self._sessions() as session:
            return list(reversed(session.scalars(query).all()))

    def get_message(self, message_id: str) -> MessageRow | None:
        with self._sessions() as session:
            return session.get(MessageRow, message_id)

    # -- feedback ---------------------------------------------------------------------------

    def get_feedback(self, message_id: str) -> FeedbackRow | None:
        with self._sessions() as session:
            return session.scalar(select(FeedbackRow).where(FeedbackRow.message_id == message_id))

    # -- analytics --------------------------------------------------------------------------

    def frequent_questions(self, limit: int = 20) -> list[tuple[str, int]]:
        """The questions users asked most, as ``(normalized question, count)``, most first.

        Questions are compared after ``normalize_question``; ties are ordered by the text.
        For warming the answer cache.
        """
        if limit <= 0:
            return []
        # The database folds exact repeats; Python then merges case and whitespace variants
        # (SQLite's lower() is ASCII-only, and neither backend collapses whitespace portably).
        query = (
            select(MessageRow.content, func.count())
            .where(MessageRow.role == "user")
            .group_by(MessageRow.content)
        )
        counts: Counter[str] = Counter()
        with self._sessions() as session:
            for content, count in session.execute(query):
                key = normalize_question(content)
                if key:
                    counts[key] += count
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]
