"""A worker process: Dramatiq consuming the job queue, stopped gracefully.

On a stop (SIGTERM, Ctrl-C) the worker takes no new task (one it receives goes straight back),
gives the tasks in hand ``grace`` seconds to end, then interrupts those still indexing: each
is released in the database and sent again, for another worker (``JobHandlers.run``). Then
Dramatiq returns the messages it had prefetched to the broker. So a stop loses no task, and a
``kill -9`` loses none either: its unacknowledged messages are delivered again (``broker``).
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dramatiq
from dramatiq.middleware import raise_thread_exception

from rag_chatbot.jobs.broker import BrokerQueue
from rag_chatbot.jobs.keeper import Keeper
from rag_chatbot.jobs.queue import HandBack
from rag_chatbot.jobs.tasks import JobHandlers
from rag_chatbot.observability.metrics import render_latest

log = logging.getLogger(__name__)

# How often an idle consumer asks the broker for work (ms): also the Redis heartbeat's pace.
POLL_MS = 1000
# After the interruption, how long the interrupted tasks get to hand themselves back.
_UNWIND_SECONDS = 10.0


def run_worker(
    queue: BrokerQueue,
    handlers: JobHandlers,
    keeper: Keeper,
    stop: threading.Event,
    *,
    concurrency: int = 1,
    grace: float = 20.0,
) -> None:
    """Consume ``queue`` with ``concurrency`` threads until ``stop`` is set (see the module)."""
    queue.attach(handlers)
    worker = dramatiq.Worker(
        queue.broker, queues={queue.queue}, worker_threads=concurrency, worker_timeout=POLL_MS
    )
    # One message in hand a thread: a message prefetched by a busy worker is one an idle
    # worker cannot take, which would leave a corpus's last documents to one worker.
    worker.queue_prefetch = concurrency
    worker.start()
    keeper.start()
    log.info("worker started", extra={"queue": queue.queue, "concurrency": concurrency})
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("worker stopping", extra={"grace_seconds": grace})
        handlers.runner.stopping.set()
        hand_back(handlers, grace)
        worker.stop(timeout=int(_UNWIND_SECONDS * 1000))
        keeper.stop()
        queue.close()
        log.info("worker stopped")


def hand_back(handlers: JobHandlers, grace: float) -> int:
    """Wait ``grace`` seconds for the tasks in hand, then interrupt the rest; how many."""
    runner = handlers.runner
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _working(handlers):
        time.sleep(0.1)
    with runner.lock:
        threads = list(runner.working)
        for thread_id in threads:
            raise_thread_exception(thread_id, HandBack)  # type: ignore[no-untyped-call]
    deadline = time.monotonic() + _UNWIND_SECONDS
    while time.monotonic() < deadline and _working(handlers):
        time.sleep(0.05)
    if threads:
        log.warning("tasks handed back", extra={"tasks": len(threads)})
    return len(threads)


def _working(handlers: JobHandlers) -> bool:
    with handlers.runner.lock:
        return bool(handlers.runner.working)


def serve_metrics(port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve ``GET /api/metrics`` (this worker's metrics) on ``port`` in a daemon thread."""

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/api/metrics":
                self.send_error(404)
                return
            body, content_type = render_latest()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds: not worth a log line each

    server = ThreadingHTTPServer((host, port), Metrics)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server
