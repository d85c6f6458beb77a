"""The analytics record of questions: the question, its sources, vectors and topics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from rag_chatbot.db.models.base import Base, utcnow


class QuestionRow(Base):
    """An answered question as the documentation's owners read it (``analytics``).

    One row per stored question, written with its messages. ``id`` is the answer's message id
    (its feedback's ``message_id``); ``text`` the question as stored (secrets redacted) and
    ``text_hash`` the SHA-256 of its normalized form, which groups repeats and keys its vector;
    ``asker`` a hash of the conversation's owner, never the owner. A row goes with its
    conversation, and after ``ANALYTICS_RETENTION_DAYS``.
    """

    __tablename__ = "questions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE")
    )
    asker: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    grounded: Mapped[bool] = mapped_column(Boolean)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # The summary's per-day counts read this index alone on PostgreSQL (an index-only scan).
        Index(
            "ix_questions_asked_at",
            "asked_at",
            postgresql_include=["grounded", "cached", "latency_ms", "asker"],
        ),
        Index("ix_questions_session_id", "session_id"),
        Index("ix_questions_text_hash", "text_hash"),
    )


class QuestionSourceRow(Base):
    """A document an answer cited: which pages carry the answers."""

    __tablename__ = "question_sources"

    question_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(1024), primary_key=True)

    __table_args__ = (Index("ix_question_sources_source", "source"),)


class QuestionVectorRow(Base):
    """A question's embedding (by ``text_hash``) and the topic it was put in, computed once."""

    __tablename__ = "question_vectors"

    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    topic_id: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_question_vectors_topic_id", "topic_id"),)


class QuestionTopicRow(Base):
    """A topic of questions: the sum of its members' unit vectors and how many they are.

    Ids are handed out by the one writer that holds the analytics lock (``db.topics``).
    """

    __tablename__ = "question_topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    model: Mapped[str] = mapped_column(String(200))
    centroid: Mapped[bytes] = mapped_column(LargeBinary)
    members: Mapped[int] = mapped_column(Integer, default=0)
