"""SQLAlchemy 2.0 tables: documents and chunks (the index), sessions, messages and feedback.

The relational store is the source of truth for what is visible: a chunk is searchable only
once its row is committed, so a document appears whole or not at all. Schema changes go
through Alembic migrations (``db/migrations``); the tests check that they match these models.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored as naive UTC and always read back timezone-aware (UTC).

    The column stays a plain ``timestamp`` / ``DATETIME`` (what the schema had before
    migrations), but conversion happens here rather than in the driver: PostgreSQL would
    otherwise shift aware values by the server's TimeZone, and SQLite keeps no zone at all.
    Naive datetimes passed in are taken to be UTC already.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # Every ``Mapped[datetime]`` column is a UTCDateTime: one rule for all timestamps.
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(1024), unique=True)
    # The directory the document was ingested from ("" for single files and uploads): a
    # re-ingest of that directory prunes the documents whose files are gone.
    origin: Mapped[str] = mapped_column(String(2048), default="")
    title: Mapped[str] = mapped_column(String(1024), default="")
    media_type: Mapped[str] = mapped_column(String(128), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    # What the chunks were built with (chunker version, window, embedding model): a change
    # re-indexes unchanged files too.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="processing")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    chunks: Mapped[list[ChunkRow]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # Named as in the operator's runbook (migration 0004), so its statements find them.
        Index("idx_documents_created_at", "created_at"),
        Index(
            "idx_documents_status",
            "status",
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
        ),
    )


class ChunkRow(Base):
    __tablename__ = "chunks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("documents.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(Text, default="")
    anchor: Mapped[str] = mapped_column(String(512), default="")
    text: Mapped[str] = mapped_column(Text)

    document: Mapped[DocumentRow] = relationship(back_populates="chunks")

    __table_args__ = (Index("ix_chunks_document_id_position", "document_id", "position"),)


class SessionRow(Base):
    """A conversation. ``owner`` is the user id or the anonymous browser token that made it."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list[MessageRow]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )


class MessageRow(Base):
    """One question (role ``user``) or answer (role ``assistant``) in a session."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    grounded: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    generator: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[SessionRow] = relationship(back_populates="messages")

    __table_args__ = (
        Index("idx_messages_session_created", "session_id", "created_at"),
        Index("idx_messages_session_id", "session_id"),
    )


class FeedbackRow(Base):
    """A reader's rating of an answer: +1 or -1, with an optional comment; one per message."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("messages.id", ondelete="CASCADE")
    )
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("message_id", name="uq_feedback_message_id"),)


class UserRow(Base):
    """An account: a unique user name, an argon2 password hash and a role (reader or admin).

    ``token_version`` goes up with every change that must end the account's logins (role,
    password); tokens carry the version they were issued under.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="reader")
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IndexStateRow(Base):
    """One row: ``version`` goes up in the transaction of every change to what is indexed.

    The response cache keys answers on it, so a new, changed or removed document makes every
    earlier answer unreachable at the moment the change becomes visible.
    """

    __tablename__ = "index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)


class SiteRow(Base):
    """A website ingested by crawling from ``url`` (its documents' ``origin``), and its last run.

    ``options`` holds the crawl options (include/exclude globs, limits) so a scheduled re-crawl
    runs as the first one did; ``counts`` the last run's report.
    """

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    options: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    every_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The process running it ("host:pid") and its last sign of life, to recover a dead run.
    runner: Mapped[str | None] = mapped_column(String(300), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PageRow(Base):
    """What a re-crawl needs of a page fetched before: validators, content hash and links.

    Its document (``documents.source`` = ``url``) holds the passages; this row lets a re-crawl
    ask "changed since?" and follow an unchanged page's links without downloading it.
    """

    __tablename__ = "pages"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(36), ForeignKey("sites.id", ondelete="CASCADE"))
    etag: Mapped[str | None] = mapped_column(String(512), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_pages_site_id", "site_id"),)


class JobRow(Base):
    """An ingest job (a folder, a file, a site, a re-index or an upload) and its progress.

    Tasks report into the counters with ``UPDATE ... SET n = n + 1`` (``jobs.store``), so
    several workers can settle tasks of one job at once. ``tasks_total``/``tasks_settled``
    drive the job's life (it finishes when they meet); ``documents_*`` are what a person
    reads (a crawl's pages, where its one task stands for all of them). ``report`` holds what
    one writer records at a time: the plan's skipped and renamed files, a crawl's failures.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(4096), default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")
    options: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    report: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    tasks_total: Mapped[int] = mapped_column(Integer, default=0)
    tasks_settled: Mapped[int] = mapped_column(Integer, default=0)
    documents_total: Mapped[int] = mapped_column(Integer, default=0)
    documents_done: Mapped[int] = mapped_column(Integer, default=0)
    passages: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Where it runs without a broker ("host:pid") and its last sign of life there.
    runner: Mapped[str | None] = mapped_column(String(300), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_jobs_created_at", "created_at"),
        Index("ix_jobs_state", "state"),
    )


class JobTaskRow(Base):
    """One document of a job (or a job's plan or crawl): what to read and how it ended.

    ``state``: queued -> running -> done | failed | skipped, or cancelled. A task claimed by a
    runner keeps ``heartbeat_at`` fresh; one whose runner went silent may be claimed again.
    ``sent_at`` is when its message last went to the broker (lost messages are sent again).
    """

    __tablename__ = "job_tasks"

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(2048), default="")
    path: Mapped[str] = mapped_column(String(4096), default="")
    origin: Mapped[str] = mapped_column(String(2048), default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    passages: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    runner: Mapped[str | None] = mapped_column(String(300), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_job_tasks_state", "state"),)


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
