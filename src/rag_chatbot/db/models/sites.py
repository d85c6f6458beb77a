"""Crawled websites and what a re-crawl needs of their pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from rag_chatbot.db.models.base import Base, utcnow


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
