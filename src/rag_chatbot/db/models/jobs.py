"""Ingest jobs and their per-document tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from rag_chatbot.db.models.base import Base, utcnow


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
