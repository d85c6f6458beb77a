"""InlineQueue: a job's messages run in the process that sends them (no ``BROKER_URL``).

The embedded default: the API runs a job in a background thread as it always ran uploads and
re-indexes, through the same handlers a worker would use. One job at a time in a process
(``drain`` holds a lock), retries of transient errors wait 1 s, 2 s, 4 s... in the draining
thread, and the jobs this process holds keep a heartbeat, so a job whose process died is
reported failed rather than running forever (``JobStore.expire_unattended``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from rag_chatbot.jobs.queue import Handlers, Transient
from rag_chatbot.jobs.records import ACTIVE
from rag_chatbot.jobs.store import JobStore

log = logging.getLogger(__name__)

BEAT_SECONDS = 10.0
# An inline job whose process has not renewed its heartbeat for this long has lost it.
UNATTENDED_SECONDS = 120.0
UNATTENDED = "interrupted: the process running it stopped; submit the job again"
STUCK = "internal error: the job stopped half way; see the server log"
_MAX_BACKOFF = 60.0


class InlineQueue:
    """The ``MessageQueue`` of a process without a broker (see the module)."""

    def __init__(
        self,
        store: JobStore,
        runner: str,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._runner = runner
        self._max_retries = max_retries
        self._sleep = sleep
        self._pending: deque[tuple[str, tuple[object, ...]]] = deque()
        self._held: set[str] = set()
        self._guard = threading.Lock()  # the deque and the held set
        self._draining = threading.Lock()  # one job at a time
        self._local = threading.local()
        self._handlers: Handlers | None = None

    @property
    def max_retries(self) -> int:
        return self._max_retries

    def attach(self, handlers: Handlers) -> None:
        self._handlers = handlers

    def hold(self, job_id: str) -> None:
        """Count ``job_id`` as this process's until it ends (its heartbeat is kept)."""
        with self._guard:
            self._held.add(job_id)

    def send_plan(self, job_id: str) -> None:
        self._push("plan", job_id)

    def send_tasks(self, job_id: str, seqs: Sequence[int]) -> None:
        for seq in seqs:
            self._push("run", job_id, seq)

    def send_finish(self, job_id: str) -> None:
        self._push("finish", job_id)

    def _push(self, name: str, *args: object) -> None:
        with self._guard:
            self._pending.append((name, args))

    def retries(self) -> int:
        return int(getattr(self._local, "retries", 0))

    def drain(self) -> None:
        """Run every message sent so far, and those they send, in this thread."""
        with self._draining:
            stop = threading.Event()
            beat = threading.Thread(target=self._beat, args=(stop,), daemon=True)
            beat.start()
            try:
                while (message := self._next()) is not None:
                    self._deliver(*message)
            finally:
                stop.set()
                beat.join(timeout=5)
                self._forget_ended()

    def _next(self) -> tuple[str, tuple[object, ...]] | None:
        with self._guard:
            return self._pending.popleft() if self._pending else None

    def _deliver(self, name: str, args: tuple[object, ...]) -> None:
        assert self._handlers is not None, "attach the handlers first"
        for attempt in range(self._max_retries + 1):
            self._local.retries = attempt
            try:
                getattr(self._handlers, name)(*args)
                return
            except Transient as exc:
                if attempt >= self._max_retries:
                    log.warning("job message dropped after retries", extra={"reason": str(exc)})
                    return
                self._sleep(min(2.0**attempt, _MAX_BACKOFF))
            except Exception:  # a bug: log it, the job reads as running until it expires
                log.exception("job message failed", extra={"handler": name})
                return

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(BEAT_SECONDS):
            with self._guard:
                held = set(self._held)
            try:
                self._store.heartbeat_jobs(self._runner, held)
            except Exception:
                log.exception("job heartbeat failed")

    def _forget_ended(self) -> None:
        """Drop the jobs that ended; fail those left active with nothing left to run (a bug
        stopped them: the log has its traceback)."""
        with self._guard:
            held = set(self._held)
            waiting = {str(args[0]) for _, args in self._pending}
        ended = set()
        for job_id in held - waiting:
            job = self._store.get(job_id)
            if job is not None and job.state in ACTIVE:
                self._store.finish(job_id, "failed", STUCK)
            ended.add(job_id)
        with self._guard:
            self._held -= ended
