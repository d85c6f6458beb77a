"""ProcessingWatch: renews the leases of this process's documents, fails those of dead ones.

Every server process runs one (started with the app, see ``api.app``): each tick renews the
lease of every document this process has accepted and not finished, then fails the documents
whose lease nobody renewed for ``stale_after`` seconds (``db.leases``). The first tick runs at
start-up, so a server started after a crash recovers what the crash left at once when it is
older than that, and within a minute otherwise. The CLI runs none: it holds no documents.

Interrupted documents are failed, not retried: the document that killed a process would kill
the next one too, and the stored upload is kept, so an admin can upload it again or re-index.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from rag_chatbot.db.leases import ProcessingLeases
from rag_chatbot.db.models import utcnow
from rag_chatbot.observability.metrics import record_ingest_failures

log = logging.getLogger(__name__)

# A tick every 10 s; a lease is stale after 6 missed ticks. The margin covers a tick delayed by
# a busy database or a long parse holding the interpreter; were a live document failed all the
# same, its ingestion still ends by writing ``completed`` or its own reason over it.
HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 60.0
INTERRUPTED = (
    "interrupted: the server stopped while it was being processed; upload it again or re-index"
)


class ProcessingWatch:
    """Holds the sources this process is indexing and keeps their leases fresh in a thread.

    Contract: ``hold(source)`` before a document is shown ``processing``, ``release(source)``
    once its final status is written; ``start``/``stop`` run the thread; ``sweep`` is one tick
    (renew, then expire) and returns the sources it failed. A tick that fails (database down)
    is logged and retried at the next one.
    """

    def __init__(
        self,
        leases: ProcessingLeases,
        *,
        interval: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self._leases = leases
        self._interval = interval
        self._stale_after = timedelta(seconds=stale_after)
        self._held: dict[str, int] = {}  # source -> how many accepted uploads of it are pending
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, source: str) -> None:
        with self._lock:
            self._held[source] = self._held.get(source, 0) + 1

    def release(self, source: str) -> None:
        with self._lock:
            left = self._held.get(source, 0) - 1
            if left > 0:
                self._held[source] = left
            else:
                self._held.pop(source, None)

    def held(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def sweep(self) -> list[str]:
        held = self.held()
        if held:
            self._leases.renew(held)
        failed = self._leases.expire(utcnow() - self._stale_after, INTERRUPTED)
        if failed:
            log.warning("interrupted documents failed", extra={"sources": failed})
            record_ingest_failures(len(failed))
        return failed

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="document-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:  # the database may be down; the next tick tries again
                log.exception("document watch tick failed")
            if self._stopping.wait(self._interval):
                return
