"""Deleting conversations nobody has touched for a while (``SESSION_RETENTION_DAYS``).

A conversation is idle since its last activity: the latest of the session's ``updated_at``
(moved by every message), its newest message and the newest feedback on its messages. One
idle longer than the retention goes whole: its feedback, its messages, the session. Documents,
accounts and every other conversation are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Select, delete, exists, func, select

from rag_chatbot.db.engine import write_lock
from rag_chatbot.db.models import FeedbackRow, MessageRow, SessionRow

_BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    sessions: int
    messages: int
    feedback: int


def _idle(cutoff: datetime) -> Select[str]:
    """Sessions with no activity at or after ``cutoff``, oldest first."""
    recent_message = exists().where(
        MessageRow.session_id == SessionRow.id, MessageRow.created_at >= cutoff
    )
    recent_feedback = exists().where(
        FeedbackRow.message_id == MessageRow.id,
        MessageRow.session_id == SessionRow.id,
        FeedbackRow.created_at >= cutoff,
    )
    return (
        select(SessionRow.id)
        .where(SessionRow.updated_at < cutoff, ~recent_message, ~recent_feedback)
        .order_by(SessionRow.updated_at, SessionRow.id)
    )


def prune_sessions(
    engine: Engine, older_than_days: int, *, now: datetime | None = None, dry_run: bool = False
) -> PruneResult:
    """Delete the conversations idle more than ``older_than_days`` (>= 1); count what went.

    Batches of 500 sessions, each in its own transaction, so a large first prune does not
    hold the database's write lock for long. Each batch is checked again inside its
    transaction, its session rows locked (PostgreSQL), so a conversation that came back to
    life meanwhile is kept. With ``dry_run`` nothing is deleted.
    """
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    with engine.connect() as connection:
        candidates = [str(i) for i in connection.scalars(_idle(cutoff))]
    sessions = messages = feedback = 0
    for start in range(0, len(candidates), _BATCH):
        with write_lock(engine), engine.begin() as connection:
            batch = [
                str(i)
                for i in connection.scalars(
                    _idle(cutoff)
                    .where(SessionRow.id.in_(candidates[start : start + _BATCH]))
                    .with_for_update(of=SessionRow)
                )
            ]
            message_ids = select(MessageRow.id).where(MessageRow.session_id.in_(batch))
            doomed_feedback = FeedbackRow.message_id.in_(message_ids)
            doomed_messages = MessageRow.session_id.in_(batch)
            if dry_run:
                feedback += _count(connection, select(func.count()).where(doomed_feedback))
                messages += _count(connection, select(func.count()).where(doomed_messages))
                sessions += len(batch)
                continue
            # Explicit deletes rather than ON DELETE CASCADE: SQLite cascades only on
            # connections that enabled foreign keys.
            feedback += _rows(connection.execute(delete(FeedbackRow).where(doomed_feedback)))
            messages += _rows(connection.execute(delete(MessageRow).where(doomed_messages)))
            sessions += _rows(
                connection.execute(delete(SessionRow).where(SessionRow.id.in_(batch)))
            )
    return PruneResult(cutoff, sessions, messages, feedback)


def _count(connection: Connection, query: Select[int]) -> int:
    return int(connection.scalar(query) or 0)


def _rows(result: CursorResult[Any]) -> int:
    return int(result.rowcount or 0)
