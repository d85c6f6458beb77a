"""SiteRepository: crawled websites, their runs, and what a re-crawl needs of each page.

A site's pages are documents like any other (``documents.source`` is the page's URL, their
``origin`` the site's URL); this module keeps only what crawling adds: the site's options and
last run, and each page's validators (ETag, Last-Modified), content hash and links.

Runs are claimed with a compare-and-set on ``status`` (see ``claim``), so of several replicas
whose schedulers wake at once exactly one re-crawls a due site.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from rag_chatbot.db.models import PageRow, SiteRow, utcnow
from rag_chatbot.errors import NotFound

_ERROR_MAX_CHARS = 4000
# A run that has given no sign of life for this long is taken for dead (``claim``).
STALE_RUN = timedelta(minutes=10)
RUNNER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Site:
    """A crawled website and its last run (contract: ``GET /api/sources/{id}``)."""

    id: str
    url: str
    options: Mapping[str, object]
    status: str  # queued | running | completed | failed
    every_seconds: int | None
    pages_done: int
    counts: Mapping[str, object]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    next_run_at: datetime | None


@dataclass(frozen=True)
class PageState:
    """A page as the last crawl left it."""

    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str
    links: tuple[str, ...]
    fetched_at: datetime

    @property
    def gone(self) -> bool:
        """A dead link remembered (404/410 at ``fetched_at``): it has no content."""
        return not self.content_hash


def _site(row: SiteRow) -> Site:
    return Site(
        id=row.id,
        url=row.url,
        options=dict(row.options or {}),
        status=row.status,
        every_seconds=row.every_seconds,
        pages_done=row.pages_done,
        counts=dict(row.counts or {}),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        next_run_at=row.next_run_at,
    )


class SiteRepository:
    """Reads and writes ``sites`` and ``pages``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def ensure(
        self, url: str, options: Mapping[str, object], every_seconds: int | None = None
    ) -> Site:
        """The site crawled from ``url``, created if new; its options replaced by ``options``."""
        with self._sessions.begin() as session:
            row = session.scalars(select(SiteRow).where(SiteRow.url == url)).first()
            if row is None:
                row = SiteRow(id=str(uuid.uuid4()), url=url, counts={}, pages_done=0)
                session.add(row)
            row.options = dict(options)
            row.every_seconds = every_seconds
            if every_seconds and row.next_run_at is None:
                row.next_run_at = utcnow()
            session.flush()
            return _site(row)

    def get(self, site_id: str) -> Site:
        with self._sessions() as session:
            row = session.get(SiteRow, site_id)
            if row is None:
                raise NotFound(f"no source with id {site_id}")
            return _site(row)

    def find(self, url: str) -> Site | None:
        """The site crawled from exactly ``url``, if there is one."""
        with self._sessions() as session:
            row = session.scalars(select(SiteRow).where(SiteRow.url == url)).first()
            return None if row is None else _site(row)

    def running(self, site_id: str) -> bool:
        """Whether a live process is crawling the site now (an abandoned run does not count)."""
        with self._sessions() as session:
            row = session.get(SiteRow, site_id)
            return row is not None and row.status == "running" and not _abandoned(row, utcnow())

    def list_sites(self) -> list[Site]:
        with self._sessions() as session:
            rows = session.scalars(select(SiteRow).order_by(SiteRow.created_at))
            return [_site(row) for row in rows]

    def claim(self, site_id: str) -> bool:
        """Mark the site ``running`` by this process unless a live one runs it; true if it did.

        A run is abandoned when its process is gone (same host, no such pid: kill -9) or has
        given no sign of life (``progress``) for ``STALE_RUN``.
        """
        now = utcnow()
        with self._sessions.begin() as session:
            row = session.get(SiteRow, site_id)
            if row is None:
                raise NotFound(f"no source with id {site_id}")
            if row.status == "running" and not _abandoned(row, now):
                return False
            result = session.execute(
                update(SiteRow)
                .where(SiteRow.id == site_id, SiteRow.status == row.status)
                .where(_same(SiteRow.runner, row.runner))
                .values(
                    status="running",
                    runner=RUNNER,
                    started_at=now,
                    heartbeat_at=now,
                    pages_done=0,
                    error=None,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def due(self, now: datetime | None = None) -> list[Site]:
        """Sites with a schedule whose next run has come, not running (or stale)."""
        now = now or utcnow()
        with self._sessions() as session:
            rows = session.scalars(
                select(SiteRow).where(
                    SiteRow.every_seconds.is_not(None), SiteRow.next_run_at <= now
                )
            )
            return [_site(row) for row in rows if row.status != "running" or _abandoned(row, now)]

    def progress(self, site_id: str, pages_done: int) -> None:
        """The run's pages so far, and a sign of life (see ``claim``)."""
        with self._sessions.begin() as session:
            session.execute(
                update(SiteRow)
                .where(SiteRow.id == site_id)
                .values(pages_done=pages_done, heartbeat_at=utcnow())
            )

    def finish(self, site_id: str, counts: Mapping[str, object], error: str | None = None) -> None:
        """End the run: ``completed`` (or ``failed`` with ``error``), the next run scheduled."""
        now = utcnow()
        with self._sessions.begin() as session:
            row = session.get(SiteRow, site_id)
            if row is None:
                return
            row.status = "failed" if error else "completed"
            row.error = error[:_ERROR_MAX_CHARS] if error else None
            row.counts = dict(counts)
            row.finished_at = now
            if row.every_seconds:
                row.next_run_at = now + timedelta(seconds=row.every_seconds)

    def reschedule(self, site_id: str, when: datetime) -> None:
        """Move a scheduled site's next run to ``when`` (a run cut short by a shutdown)."""
        with self._sessions.begin() as session:
            session.execute(
                update(SiteRow)
                .where(SiteRow.id == site_id, SiteRow.every_seconds.is_not(None))
                .values(next_run_at=when)
            )

    def delete(self, site_id: str) -> None:
        """Forget the site and its pages' states (its documents are the pipeline's to remove)."""
        with self._sessions.begin() as session:
            session.execute(delete(PageRow).where(PageRow.site_id == site_id))
            session.execute(delete(SiteRow).where(SiteRow.id == site_id))

    def pages(self, site_id: str) -> dict[str, PageState]:
        """The pages the last crawls of the site left, by URL."""
        with self._sessions() as session:
            rows = session.scalars(select(PageRow).where(PageRow.site_id == site_id))
            return {
                row.url: PageState(
                    row.url,
                    row.etag,
                    row.last_modified,
                    row.content_hash,
                    tuple(row.links or ()),
                    row.fetched_at,
                )
                for row in rows
            }

    def save_page(self, site_id: str, page: PageState) -> None:
        """Record (or replace) a page's state after its document was written."""
        with self._sessions.begin() as session:
            row = session.get(PageRow, page.url)
            if row is None:
                row = PageRow(url=page.url, site_id=site_id)
                session.add(row)
            row.site_id = site_id
            row.etag = page.etag
            row.last_modified = page.last_modified
            row.content_hash = page.content_hash
            row.links = list(page.links)
            row.fetched_at = page.fetched_at

    def drop_pages(self, urls: Iterable[str]) -> None:
        names = list(urls)
        with self._sessions.begin() as session:
            for start in range(0, len(names), 900):
                session.execute(delete(PageRow).where(PageRow.url.in_(names[start : start + 900])))


def _abandoned(row: SiteRow, now: datetime) -> bool:
    """A ``running`` row whose process died (same host, pid gone) or went silent."""
    host, _, pid = (row.runner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return True
    beat = row.heartbeat_at or row.started_at
    return beat is None or beat < now - STALE_RUN


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _same(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
