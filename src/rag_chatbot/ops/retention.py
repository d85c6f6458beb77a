"""Deleting conversations nobody has touched for a while (``SESSION_RETENTION_DAYS``), and
the analytics record of old questions (``ANALYTICS_RETENTION_DAYS``).

A conversation is idle since its last activity: the latest of the session's ``updated_at``
(moved by every message), its newest message and the newest feedback on its messages. One
idle longer than the retention goes whole: its feedback, its messages, its questions' analytics
record, the session. Documents, accounts and every other conversation are left alone.

The analytics record of a question (``questions``, ``question_sources``) goes after its own
retention even while the conversation stays; then the vectors of question texts nobody asks
any more, and the topics left without questions, go too (``prune_questions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Select, delete, exists, func, select

from rag_chatbot.db.asked import forget_sessions
from rag_chatbot.db.engine import write_lock
from rag_chatbot.db.models import (
    FeedbackRow,
    MessageRow,
    QuestionRow,
    QuestionSourceRow,
    QuestionTopicRow,
    QuestionVectorRow,
    SessionRow,
)
from rag_chatbot.db.topics import TopicStore

_BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    sessions: int
    messages: int
    feedback: int
    questions: int = 0  # analytics records of the conversations' questions


@dataclass(frozen=True)
class QuestionPruneResult:
    cutoff: datetime
    questions: int
    vectors: int
    topics: int


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
    sessions = messages = feedback = questions = 0
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
            doomed_questions = QuestionRow.session_id.in_(batch)
            if dry_run:
                questions += _count(connection, select(func.count()).where(doomed_questions))
                feedback += _count(connection, select(func.count()).where(doomed_feedback))
                messages += _count(connection, select(func.count()).where(doomed_messages))
                sessions += len(batch)
                continue
            # Explicit deletes rather than ON DELETE CASCADE: SQLite cascades only on
            # connections that enabled foreign keys.
            questions += forget_sessions(connection, doomed_questions)
            feedback += _rows(connection.execute(delete(FeedbackRow).where(doomed_feedback)))
            messages += _rows(connection.execute(delete(MessageRow).where(doomed_messages)))
            sessions += _rows(
                connection.execute(delete(SessionRow).where(SessionRow.id.in_(batch)))
            )
    return PruneResult(cutoff, sessions, messages, feedback, questions)


def prune_questions(
    engine: Engine, older_than_days: int, *, now: datetime | None = None, dry_run: bool = False
) -> QuestionPruneResult:
    """Delete the analytics record of questions asked more than ``older_than_days`` ago (0:
    none), then the vectors no question uses and the topics without vectors.

    Questions go in batches of 500, oldest first, each batch a transaction of its own.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    old = QuestionRow.asked_at < cutoff
    if dry_run:
        with engine.connect() as connection:
            count = _count(connection, select(func.count()).where(old)) if older_than_days else 0
        return QuestionPruneResult(cutoff, count, 0, 0)
    questions = 0
    while older_than_days:
        with write_lock(engine), engine.begin() as connection:
            batch = list(
                connection.scalars(
                    select(QuestionRow.id).where(old).order_by(QuestionRow.asked_at).limit(_BATCH)
                )
            )
            if not batch:
                break
            connection.execute(
                delete(QuestionSourceRow).where(QuestionSourceRow.question_id.in_(batch))
            )
            questions += _rows(
                connection.execute(delete(QuestionRow).where(QuestionRow.id.in_(batch)))
            )
    unused = ~exists().where(QuestionRow.text_hash == QuestionVectorRow.text_hash)
    empty = ~exists().where(QuestionVectorRow.topic_id == QuestionTopicRow.id)
    # Under the topics' lock: a topic emptied here must not gain members meanwhile.
    with TopicStore(engine).locked() as connection:
        vectors = _rows(connection.execute(delete(QuestionVectorRow).where(unused)))
        topics = _rows(connection.execute(delete(QuestionTopicRow).where(empty)))
    return QuestionPruneResult(cutoff, questions, vectors, topics)


def _count(connection: Connection, query: Select[int]) -> int:
    return int(connection.scalar(query) or 0)


def _rows(result: CursorResult[Any]) -> int:
    return int(result.rowcount or 0)
