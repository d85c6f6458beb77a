"""JobHandlers: what a job's plan, tasks and finish do — the same code with or without a broker.

A task is one document: read its bytes, ``IngestionPipeline.ingest_bytes`` them (content-hash
rules: unchanged is a no-op, so a task delivered twice costs a hash), settle it. Errors are
sorted three ways: unsupported type -> skipped; an outage (``TRANSIENT``) -> ``Transient``,
retried with backoff until ``max_retries``, then failed; anything else -> this document fails
alone with its reason (an upload's or a re-index's document is marked failed, as the API
always did). A site is crawled by one task (pages must be fetched politely, in one place),
reporting each page into the job's counters as it goes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rag_chatbot.crawl import Page
from rag_chatbot.db.models import JobRow, utcnow
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.errors import (
    InvalidInput,
    RagChatbotError,
    UnsupportedFormat,
)
from rag_chatbot.ingestion.pipeline import IngestionPipeline
from rag_chatbot.ingestion.site import SiteIngest
from rag_chatbot.jobs.planning import plan_job
from rag_chatbot.jobs.queue import TRANSIENT, HandBack, MessageQueue, Transient, outage_is_transient
from rag_chatbot.jobs.records import ACTIVE
from rag_chatbot.jobs.runner import Runner
from rag_chatbot.jobs.store import JobStore, Task, stale_cutoff
from rag_chatbot.observability.metrics import record_ingest_failures, record_job_task

log = logging.getLogger(__name__)

# A running task whose runner has not renewed its heartbeat for this long may be taken over.
STALE_TASK_SECONDS = 30.0
_SEND_BATCH = 500


@dataclass(frozen=True)
class Outcome:
    outcome: str  # added | updated | unchanged | skipped | failed | done (a crawl)
    passages: int = 0
    reason: str | None = None


class JobHandlers:
    """Plans, runs and finishes jobs over this process's pipeline (see the module)."""

    def __init__(
        self,
        store: JobStore,
        queue: MessageQueue,
        pipeline: IngestionPipeline,
        documents: DocumentRepository,
        sites: SiteIngest,
        uploads_dir: Path,
        max_document_bytes: int,
        runner: Runner,
    ) -> None:
        self.store = store
        self.queue = queue
        self.runner = runner
        self._pipeline = pipeline
        self._documents = documents
        self._sites = sites
        self._uploads = uploads_dir
        self._max_bytes = max_document_bytes

    @outage_is_transient
    def plan(self, job_id: str) -> None:
        """Make the job's tasks (once) and send them; a job with nothing to do ends here."""
        job = self.store.get(job_id)
        if job is None or job.state not in ACTIVE or job.tasks_total:
            return
        planned = plan_job(job, self._documents, self._uploads, self._max_bytes)
        if not self.store.add_tasks(job_id, planned.tasks, planned.report):
            return
        self.store.count(job_id, skipped=len(planned.skipped), failed=len(planned.failures))
        if not planned.tasks:
            self.finish(job_id)
            return
        for start in range(0, len(planned.tasks), _SEND_BATCH):
            seqs = range(start, min(start + _SEND_BATCH, len(planned.tasks)))
            self.queue.send_tasks(job_id, seqs)
            self.store.mark_sent(job_id, seqs)

    @outage_is_transient
    def run(self, job_id: str, seq: int) -> None:
        """Run one task: claim it, index its document, settle it, finish the job if last."""
        runner = self.runner
        if runner.stopping.is_set():  # a stopping worker takes nothing new: back it goes
            self.queue.send_tasks(job_id, [seq])
            return
        task = self.store.claim(job_id, seq, runner.name, stale_cutoff(STALE_TASK_SECONDS))
        if task is None and (task := self._unclaimed(job_id, seq)) is None:
            return  # settled, cancelled, or its live runner will settle it
        started = time.perf_counter()
        with runner.hold(task):
            try:
                with runner.interruptible(task):
                    result = self._execute(task)
            except HandBack:
                self.store.release(task, runner.name)
                self.queue.send_tasks(job_id, [seq])
                return
            except Transient as exc:
                if self.queue.retries() < self.queue.max_retries:
                    self.store.release(task, runner.name)
                    raise
                reason = f"{exc} (gave up after {self.queue.max_retries} retries)"
                result = self._failed(task, reason)
        seconds = time.perf_counter() - started
        counted, last = self.store.settle(
            task, runner.name, result.outcome, result.passages, result.reason, seconds
        )
        if counted:
            record_job_task(result.outcome, seconds)
        if counted and last:
            self.queue.send_finish(job_id)

    def _unclaimed(self, job_id: str, seq: int) -> Task | None:
        """A task ``claim`` refused: ours if an attempt of ours left it running (it failed
        before releasing it); ``Transient`` (later) while another live runner holds it."""
        runner = self.runner
        state, holder = self.store.holder(job_id, seq)
        if state != "running":
            return None
        if holder == runner.name and (job_id, seq) not in runner.holding():
            return self.store.claim(job_id, seq, runner.name, utcnow() + timedelta(seconds=1))
        if holder != runner.name and self.queue.retries() < self.queue.max_retries:
            raise Transient(f"task {seq} of job {job_id} is running in {holder}")
        return None

    @outage_is_transient
    def finish(self, job_id: str) -> None:
        """Prune a folder's missing files, optimise the index, and end the job (idempotent)."""
        job = self.store.get(job_id)
        if job is None or job.state not in ACTIVE or job.tasks_settled < job.tasks_total:
            return
        removed = self._prune(job)
        if removed:
            self.store.count(job_id, removed=removed)
        if job.kind == "upload":
            self._pipeline.publish_index_size()
        else:
            if not self._others_active(job_id):
                self._pipeline.reconcile()  # unowned points: only safe with no task in flight
            self._pipeline.settle()
        self.store.finish(job_id, *self._verdict(job))

    def _execute(self, task: Task) -> Outcome:
        if task.kind == "crawl":
            return self._crawl(task)
        try:
            data = Path(task.path).read_bytes()
            outcome, passages = self._pipeline.ingest_bytes(
                data, task.source, task.origin, force=task.kind == "reindex"
            )
        except UnsupportedFormat as exc:
            return Outcome("skipped", reason=str(exc))
        except TRANSIENT as exc:
            raise Transient(str(exc) or type(exc).__name__) from exc
        except (RagChatbotError, OSError) as exc:
            log.warning("document failed", extra={"source": task.source, "reason": str(exc)})
            return self._failed(task, str(exc))
        except Exception as exc:
            log.exception("document failed unexpectedly", extra={"source": task.source})
            return self._failed(task, f"internal error ({type(exc).__name__}); see the server log")
        if task.kind == "upload":
            self._pipeline.publish_index_size()
        return Outcome(outcome, passages)

    def _failed(self, task: Task, reason: str) -> Outcome:
        """This document fails alone; an upload's or re-index's row says why (as it always did)."""
        if task.kind in ("upload", "reindex"):
            self._documents.mark_failed(task.source, reason)
        record_ingest_failures()
        return Outcome("failed", reason=reason)

    def _crawl(self, task: Task) -> Outcome:
        job = self.store.get(task.job_id)
        assert job is not None
        given = job.options.get("crawl") if isinstance(job.options, dict) else None
        chosen: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
        listed = {k: tuple(v) for k, v in chosen.items() if isinstance(v, list)}
        options = dataclasses.replace(self._sites.defaults, **{**chosen, **listed})
        known = [s for s in self._sites.list_sites() if s.url == task.source]
        site = self._sites.add(task.source, options, known[0].every_seconds if known else None)

        def on_page(page: Page, outcome: str) -> None:
            self.store.count(task.job_id, documents_done=1, documents_total=1)

        try:
            report = self._sites.run(site.id, on_page=on_page)
        except InvalidInput as exc:  # crawled by another process right now: later
            raise Transient(str(exc)) from exc
        except TRANSIENT as exc:
            raise Transient(str(exc) or type(exc).__name__) from exc
        except RagChatbotError as exc:
            return Outcome("failed", reason=str(exc))
        summary = report.as_dict()
        counts = {k: int(summary[k]) for k in _CRAWL_COUNTS}  # type: ignore[call-overload]
        self.store.count(task.job_id, **counts)
        self.store.note(task.job_id, failures=report.failed, skipped=report.skipped)
        return Outcome("done", report.chunks)

    def _prune(self, job: JobRow) -> int:
        """Remove the documents of the job's folders whose files are gone (as ``ingest`` does)."""
        folders = job.report.get("directories") if isinstance(job.report, dict) else None
        if job.kind != "ingest" or not isinstance(folders, list) or not folders:
            return 0
        planned: dict[str, set[str]] = {}
        for row in self.store.tasks(job.id):
            planned.setdefault(row.origin, set()).add(row.source)
        removed = 0
        for origin in folders:
            for source in sorted(self._documents.sources_from(origin) - planned.get(origin, set())):
                removed += int(self._pipeline.remove(source))
        return removed

    def _others_active(self, job_id: str) -> bool:
        return any(j.id != job_id for j in self.store.list_jobs("running", limit=2))

    def _verdict(self, job: JobRow) -> tuple[str, str | None]:
        """``failed`` when nothing could be done: every task failed, or the plan found nothing
        but failures (a path that does not exist); else ``done``, failures listed."""
        if job.tasks_total:
            failed = self.store.failures(job.id, limit=1)
            if failed and self.store.count_failed(job.id) >= job.tasks_total:
                return "failed", failed[0]["reason"]
            return "done", None
        failures = job.report.get("failures") if isinstance(job.report, dict) else None
        if isinstance(failures, list) and failures and not job.skipped:
            return "failed", str(failures[0].get("reason", "nothing to ingest"))
        return "done", None


_CRAWL_COUNTS = ("added", "updated", "unchanged", "removed", "skipped", "failed")
