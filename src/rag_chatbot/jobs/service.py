"""JobService: submit, read and cancel jobs (the Jobs API and ``ingest --wait`` use it).

With ``BROKER_URL`` a job is a message to the workers and this process only writes its row;
without it the job runs here, through ``InlineQueue``, when the caller calls ``run_inline``
(the API schedules it as a background task, as it always ran uploads). Either way the job's
row is its state: ``view`` reads progress, failures and an estimate of the time left.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rag_chatbot.db.models import JobRow, utcnow
from rag_chatbot.errors import NotFound, RagChatbotError
from rag_chatbot.jobs.broker import BrokerQueue
from rag_chatbot.jobs.inline import UNATTENDED, UNATTENDED_SECONDS, InlineQueue
from rag_chatbot.jobs.planning import site_url
from rag_chatbot.jobs.records import ACTIVE
from rag_chatbot.jobs.store import JobStore, TaskSpec, stale_cutoff

RUNNER = f"{socket.gethostname()}:{os.getpid()}"
STATES = ("queued", "running", "done", "failed", "cancelled")
FAILURES_SHOWN = 1000


class JobService:
    """Jobs over ``store``, sent through ``queue`` (a broker's, or this process's)."""

    def __init__(
        self,
        store: JobStore,
        queue: BrokerQueue | InlineQueue,
        uploads_dir: Path,
        release_upload: Callable[[str], None] = lambda source: None,
    ) -> None:
        self.store = store
        self.queue = queue
        self._uploads = uploads_dir
        self._release_upload = release_upload

    @property
    def inline(self) -> bool:
        return isinstance(self.queue, InlineQueue)

    def submit_ingest(self, target: str, crawl: dict[str, object] | None = None) -> JobRow:
        """A job indexing ``target``: a folder or file on the server, or a site's URL."""
        target = target if site_url(target) else os.path.abspath(target)
        options: dict[str, object] = {"crawl": crawl} if crawl else {}
        return self._submit("ingest", target, options)

    def submit_reindex(self) -> JobRow:
        """A job reading and embedding every document again."""
        return self._submit("reindex", "", {})

    def submit_upload(self, source: str) -> JobRow:
        """A job indexing the upload ``DocumentService.accept_upload`` stored as ``source``."""
        task = TaskSpec("upload", source, str(self._uploads / source), "")
        job_id = self.store.create("upload", source, tasks=[task], runner=self._runner())
        self._send(job_id, lambda: self.queue.send_tasks(job_id, [0]))
        self.store.mark_sent(job_id, [0])
        if not self.inline:
            # The worker's keeper keeps its lease from here on (``jobs.keeper``).
            self._release_upload(source)
        return self._row(job_id)

    def run_inline(self, release: str | None = None) -> None:
        """Run the jobs submitted to this process (no broker); a no-op with one."""
        try:
            if isinstance(self.queue, InlineQueue):
                self.queue.drain()
        finally:
            if release is not None and self.inline:
                self._release_upload(release)

    def _submit(self, kind: str, target: str, options: dict[str, object]) -> JobRow:
        job_id = self.store.create(kind, target, options, runner=self._runner())
        self._send(job_id, lambda: self.queue.send_plan(job_id))
        return self._row(job_id)

    def _send(self, job_id: str, send: Callable[[], None]) -> None:
        try:
            send()
        except RagChatbotError as exc:  # the broker is down: the job never started
            self.store.finish(job_id, "failed", str(exc))
            raise
        if isinstance(self.queue, InlineQueue):
            self.queue.hold(job_id)

    def _runner(self) -> str | None:
        return RUNNER if self.inline else None

    def _row(self, job_id: str) -> JobRow:
        row = self.store.get(job_id)
        if row is None:
            raise NotFound(f"job {job_id} not found")
        return row

    def view(self, job_id: str) -> dict[str, Any]:
        """The job as the API shows it; ``NotFound`` for an unknown id."""
        self._expire()
        return self.describe(self._row(job_id), failures=FAILURES_SHOWN)

    def list(
        self, state: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        self._expire()
        return [
            self.describe(row, failures=10) for row in self.store.list_jobs(state, limit, offset)
        ]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel the job if it has not ended (waiting tasks dropped); the job as it is now."""
        self._row(job_id)
        self.store.cancel(job_id)
        return self.view(job_id)

    def _expire(self) -> None:
        self.store.expire_unattended(stale_cutoff(UNATTENDED_SECONDS), UNATTENDED)

    def describe(self, row: JobRow, failures: int) -> dict[str, Any]:
        report = row.report if isinstance(row.report, dict) else {}
        noted = report.get("failures")
        listed = [f for f in noted if isinstance(f, dict)] if isinstance(noted, list) else []
        if len(listed) < failures:
            listed += self.store.failures(row.id, limit=failures - len(listed))
        return {
            "id": row.id,
            "kind": row.kind,
            "target": row.target,
            "state": row.state,
            "documents_total": row.documents_total,
            "documents_done": row.documents_done,
            "passages": row.passages,
            "failures": listed[:failures],
            "counts": {
                name: getattr(row, name)
                for name in ("added", "updated", "unchanged", "removed", "skipped", "failed")
            },
            "error": row.error,
            "eta_seconds": eta_seconds(row),
            "created_at": row.created_at,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
        }


def eta_seconds(row: JobRow, now: datetime | None = None) -> float | None:
    """Time left at the rate so far: None until a document is done, when not running, and for
    a crawl (its pages are counted as they are found: no total to go by)."""
    if row.state not in ACTIVE or row.started_at is None or row.documents_done <= 0:
        return None
    if site_url(row.target):
        return None
    left = row.documents_total - row.documents_done
    if left <= 0:
        return 0.0
    elapsed = ((now or utcnow()) - row.started_at).total_seconds()
    return round(max(elapsed, 0.0) / row.documents_done * left, 1)
