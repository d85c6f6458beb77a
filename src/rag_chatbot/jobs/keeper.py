"""Keeper: a worker's upkeep thread, one tick every few seconds.

Each tick: renew the heartbeats of the tasks this worker runs (so no other worker takes them
over), renew the leases of uploads waiting in the queue (so the API's ``ProcessingWatch`` does
not fail them as interrupted while they wait their turn), send again what the broker lost
(``jobs.upkeep``), and publish the backlog gauges. A tick that fails (the database or the
broker down) is logged and the next one tries again.
"""

from __future__ import annotations

import logging
import threading

from rag_chatbot.db.leases import ProcessingLeases
from rag_chatbot.jobs.broker import BrokerQueue
from rag_chatbot.jobs.runner import Runner
from rag_chatbot.jobs.store import JobStore, stale_cutoff
from rag_chatbot.jobs.tasks import STALE_TASK_SECONDS
from rag_chatbot.jobs.upkeep import JobUpkeep
from rag_chatbot.observability.metrics import set_job_backlog

log = logging.getLogger(__name__)

TICK_SECONDS = 10.0
# A message the broker should have delivered by now, were it still there.
RESEND_AFTER_SECONDS = 60.0


class Keeper:
    """Runs ``tick`` every ``interval`` seconds in a daemon thread (``start``/``stop``)."""

    def __init__(
        self,
        store: JobStore,
        upkeep: JobUpkeep,
        queue: BrokerQueue,
        leases: ProcessingLeases,
        runner: Runner,
        *,
        interval: float = TICK_SECONDS,
        resend_after: float = RESEND_AFTER_SECONDS,
    ) -> None:
        self._store = store
        self._upkeep = upkeep
        self._queue = queue
        self._leases = leases
        self._runner = runner
        self._interval = interval
        self._resend_after = resend_after
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> dict[str, int]:
        """One round of upkeep; what it sent again, by kind."""
        self._store.renew(self._runner.name, self._runner.holding())
        uploads = self._upkeep.pending_uploads()
        if uploads:
            self._leases.renew(uploads)
        sent = {"plans": 0, "tasks": 0, "finishes": 0}
        if self._queue.idle():
            sent_before = stale_cutoff(self._resend_after)
            for job_id in self._upkeep.lost_plans(sent_before):
                self._queue.send_plan(job_id)
                sent["plans"] += 1
            lost = self._upkeep.lost_tasks(sent_before, stale_cutoff(STALE_TASK_SECONDS))
            for job_id, seq in lost:
                self._queue.send_tasks(job_id, [seq])
            sent["tasks"] = len(lost)
            for job_id in self._upkeep.lost_finishes(sent_before):
                self._queue.send_finish(job_id)
                sent["finishes"] += 1
            if any(sent.values()):
                log.warning("sent lost job messages again", extra=sent)
        set_job_backlog(*self._upkeep.backlog())
        return sent

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="job-keeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # the database or the broker may be down: next tick
                log.exception("job keeper tick failed")
            if self._stopping.wait(self._interval):
                return
