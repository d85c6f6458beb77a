"""Questions as analytics reads them: the questions, the documents their answers cited, and
each question's vector and topic; filled from the conversations stored so far.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from rag_chatbot.db.asked import asked_rows
from rag_chatbot.db.redaction import redact_secrets

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("asker", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("grounded", sa.Boolean(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_questions_asked_at",
        "questions",
        ["asked_at"],
        postgresql_include=["grounded", "cached", "latency_ms", "asker"],
    )
    op.create_index("ix_questions_session_id", "questions", ["session_id"])
    op.create_index("ix_questions_text_hash", "questions", ["text_hash"])
    op.create_table(
        "question_sources",
        sa.Column(
            "question_id",
            sa.String(36),
            sa.ForeignKey("questions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("source", sa.String(1024), primary_key=True),
    )
    op.create_index("ix_question_sources_source", "question_sources", ["source"])
    op.create_table(
        "question_vectors",
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_question_vectors_topic_id", "question_vectors", ["topic_id"])
    op.create_table(
        "question_topics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
    )
    _record_stored_questions(op.get_bind())


def downgrade() -> None:
    op.drop_table("question_topics")
    op.drop_index("ix_question_vectors_topic_id", table_name="question_vectors")
    op.drop_table("question_vectors")
    op.drop_index("ix_question_sources_source", table_name="question_sources")
    op.drop_table("question_sources")
    op.drop_index("ix_questions_text_hash", table_name="questions")
    op.drop_index("ix_questions_session_id", table_name="questions")
    op.drop_index("ix_questions_asked_at", table_name="questions")
    op.drop_table("questions")


def _record_stored_questions(bind: sa.Connection) -> None:
    """A ``questions`` row for every stored answer that follows its question in a session.

    Read in the order of each session's messages, a stream of rows; written in batches.
    """
    messages = sa.table(
        "messages",
        sa.column("id", sa.String),
        sa.column("session_id", sa.String),
        sa.column("role", sa.String),
        sa.column("content", sa.Text),
        sa.column("citations", sa.JSON),
        sa.column("grounded", sa.Boolean),
        sa.column("latency_ms", sa.Float),
        sa.column("created_at", sa.DateTime),
    )
    sessions = sa.table("sessions", sa.column("id", sa.String), sa.column("owner", sa.String))
    query = (
        sa.select(messages, sessions.c.owner)
        .join(sessions, sessions.c.id == messages.c.session_id)
        .order_by(messages.c.session_id, messages.c.created_at, messages.c.id)
    )
    questions: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    before: Any = None
    # Options of the statement, not of the connection: Alembic's own statements follow.
    streamed = query.execution_options(stream_results=True, yield_per=_BATCH)
    for row in bind.execute(streamed):
        asked = before is not None and before.session_id == row.session_id
        if asked and row.role == "assistant" and before.role == "user":
            question, cited = asked_rows(
                row.id,
                row.session_id,
                row.owner,
                redact_secrets(before.content.strip()),
                at=row.created_at,
                grounded=row.grounded,
                cached=False,
                confidence=None,
                latency_ms=row.latency_ms,
                citations=[c for c in row.citations or [] if isinstance(c, dict)],
            )
            questions.append(question)
            sources += cited
        before = row
        if len(questions) >= _BATCH:
            _write(bind, questions, sources)
    _write(bind, questions, sources)


_QUESTIONS = sa.table(
    "questions",
    sa.column("id", sa.String),
    sa.column("session_id", sa.String),
    sa.column("asker", sa.String),
    sa.column("text", sa.Text),
    sa.column("text_hash", sa.String),
    sa.column("grounded", sa.Boolean),
    sa.column("cached", sa.Boolean),
    sa.column("confidence", sa.Float),
    sa.column("latency_ms", sa.Float),
    sa.column("asked_at", sa.DateTime),
)
_SOURCES = sa.table(
    "question_sources", sa.column("question_id", sa.String), sa.column("source", sa.String)
)


def _write(
    bind: sa.Connection, questions: list[dict[str, Any]], sources: list[dict[str, Any]]
) -> None:
    if questions:
        bind.execute(_QUESTIONS.insert(), questions)
    if sources:
        bind.execute(_SOURCES.insert(), sources)
    questions.clear()
    sources.clear()
