"""Every Prometheus metric of rag-chatbot, defined in this one module.

Module-level metric objects are the accepted exception to the house rule "no import-time
globals": prometheus-client keeps metrics in process-wide registries (or, in multiprocess
mode, in per-process files), so one definition a process is what it expects.

Multiprocess mode (several uvicorn workers). prometheus-client chooses between in-memory
values and per-process files **when ``prometheus_client`` is first imported**, from the
environment variable ``PROMETHEUS_MULTIPROC_DIR``. Hence ``rag-chatbot serve --workers N``:

1. in the parent, before any worker starts: ``prepare_multiprocess_dir(path)`` — creates or
   empties the directory and sets ``PROMETHEUS_MULTIPROC_DIR`` in ``os.environ`` (importing
   this module first is fine: the parent serves nothing, and its own files are kept);
2. starts the workers (uvicorn spawns fresh interpreters that inherit the variable, so each
   worker imports this module in multiprocess mode and writes ``*_<pid>.db`` files);
3. each worker calls ``mark_process_dead(os.getpid())`` on shutdown (lifespan), so its
   ``live*`` gauges stop counting; under gunicorn, call it from the ``child_exit`` hook instead.

``render_latest()`` then aggregates every worker's files, whichever worker is scraped.
Counters and histograms of dead workers are kept (totals never go backwards).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.registry import Collector

from rag_chatbot import __version__

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text type every Prometheus version and scraper accepts; newer prometheus-client
# labels the same bytes "version=1.0.0" (identical while all names are legacy-valid).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED_ROUTE = "<unmatched>"

if os.environ.get(MULTIPROC_ENV):
    # A variable set by the operator for a directory that does not exist yet would otherwise
    # make the first metric below fail with FileNotFoundError at import.
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)

# 5 ms … 10 s: a cached answer or a health check sits at the bottom, a cold LLM call at the top.
# 2 s is the p95 objective, 5 s and 10 s the latency alerts' thresholds: a bucket at each makes
# "p95 above N s" exact rather than interpolated (deploy/monitoring/rules.yml).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)
_RETRIEVAL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_GENERATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by method, route template and status code.",
    ["method", "path", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the last byte of the response, by route template.",
    ["method", "path"],
    buckets=_HTTP_BUCKETS,
)
RETRIEVAL_SECONDS = Histogram(
    "rag_chatbot_retrieval_seconds",
    "Hybrid retrieval time for one question.",
    buckets=_RETRIEVAL_BUCKETS,
)
GENERATION_SECONDS = Histogram(
    "rag_chatbot_generation_seconds",
    "Answer generation time for one question (extractive or LLM).",
    buckets=_GENERATION_BUCKETS,
)
CACHE_HITS = Counter("rag_chatbot_cache_hits_total", "Answers served from the response cache.")
CACHE_MISSES = Counter(
    "rag_chatbot_cache_misses_total", "Response cache look-ups that found nothing."
)
RATE_LIMITED = Counter(
    "rag_chatbot_rate_limited_total",
    "Requests refused with 429, by limit (chat, upload, auth, default).",
    ["scope"],
)
INGEST_FAILURES = Counter(
    "rag_chatbot_ingest_failures_total", "Documents that failed to load, chunk, embed or store."
)
CHAT_REQUESTS = Counter(
    "rag_chatbot_chat_requests_total",
    "Answered questions; grounded=false when the documents did not support an answer.",
    ["grounded"],
)
# Every worker reads the same stores, so the freshest value any live worker saw is the truth:
# "livemostrecent". max would keep a stale high count after a prune, sum would count the
# index once per worker, and the live- prefix drops the files of workers that have exited.
DOCUMENTS_INDEXED = Gauge(
    "rag_chatbot_documents_indexed",
    "Documents currently in the index.",
    multiprocess_mode="livemostrecent",
)
CHUNKS_INDEXED = Gauge(
    "rag_chatbot_chunks_indexed",
    "Chunks currently in the index.",
    multiprocess_mode="livemostrecent",
)
# Each worker has its own pool: the sums over live workers give the server's totals, so
# in_use / size > 0.8 means the same thing with one worker or many.
DB_POOL_IN_USE = Gauge(
    "rag_chatbot_db_pool_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "rag_chatbot_db_pool_size",
    "Database connections the pool may hold (pool size plus overflow).",
    multiprocess_mode="livesum",
)
# Ingest jobs (``rag-chatbot worker``): the tasks waiting and running, read from the database
# by each worker (the freshest reading is the truth), and each task's end and duration.
JOBS_QUEUED = Gauge(
    "rag_chatbot_jobs_queued",
    "Tasks (documents) of ingest jobs waiting for a worker.",
    multiprocess_mode="livemostrecent",
)
JOBS_RUNNING = Gauge(
    "rag_chatbot_jobs_running",
    "Tasks (documents) of ingest jobs being indexed now.",
    multiprocess_mode="livemostrecent",
)
JOBS_DONE = Counter("rag_chatbot_jobs_done_total", "Job tasks that ended (indexed, unchanged).")
JOBS_FAILED = Counter("rag_chatbot_jobs_failed_total", "Job tasks whose document failed.")
JOB_TASK_SECONDS = Histogram(
    "rag_chatbot_jobs_task_seconds",
    "Seconds a job task took, from claim to settle.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)
BUILD_INFO = Gauge(
    "rag_chatbot_build_info",
    "Always 1; the version label says which release is running.",
    ["version"],
    multiprocess_mode="livemax",
)
BUILD_INFO.labels(version=__version__).set(1)


def multiprocess_enabled() -> bool:
    """True when this process's metrics live in ``PROMETHEUS_MULTIPROC_DIR`` files.

    Decided by prometheus-client at its import, which may precede a later change of the
    environment: ask its value class rather than ``os.environ``.
    """
    return values.ValueClass is not values.MutexValue


def render_latest(scraped: Sequence[Collector] = ()) -> tuple[bytes, str]:
    """The text exposition of every metric and its content type, for ``GET /api/metrics``.

    In multiprocess mode a fresh registry aggregates the files of all workers, live or dead;
    otherwise the default registry (with process and GC collectors) is rendered. ``scraped``
    are collectors read by the answering process at this moment (container resources, see
    ``observability.resources``), appended in either mode.
    """
    if multiprocess_enabled():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if scraped:
        extra = CollectorRegistry(auto_describe=False)
        for collector in scraped:
            extra.register(collector)
        body += generate_latest(extra)
    return body, CONTENT_TYPE


def prepare_multiprocess_dir(path: Path) -> None:
    """Create or empty ``path`` and export it as ``PROMETHEUS_MULTIPROC_DIR``.

    Call once in the parent process before any worker starts; workers inherit the variable.
    Files left by a previous run would otherwise be summed into the new run's counters.
    Only ``*.db`` files are removed, so a mistyped path never deletes unrelated data, and
    never the calling process's own files when it already writes there (the variable was set
    before this module was imported): deleting them would silently lose its metrics.
    """
    path.mkdir(parents=True, exist_ok=True)
    own_suffix = f"_{os.getpid()}.db" if multiprocess_enabled() else None
    for stale in path.glob("*.db"):
        if own_suffix is None or not stale.name.endswith(own_suffix):
            stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)


def mark_process_dead(pid: int) -> None:
    """Drop the ``live*`` gauges of worker ``pid``; a no-op outside multiprocess mode."""
    if multiprocess_enabled() and os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


@contextmanager
def observe_retrieval() -> Iterator[None]:
    """Time the enclosed block into ``rag_chatbot_retrieval_seconds`` (also when it raises)."""
    with RETRIEVAL_SECONDS.time():
        yield


@contextmanager
def observe_generation() -> Iterator[None]:
    """Time the enclosed block into ``rag_chatbot_generation_seconds`` (also when it raises)."""
    with GENERATION_SECONDS.time():
        yield


def record_chat(grounded: bool) -> None:
    """Count one answered question."""
    CHAT_REQUESTS.labels(grounded="true" if grounded else "false").inc()


def record_cache(hit: bool) -> None:
    """Count one response-cache look-up as a hit or a miss."""
    (CACHE_HITS if hit else CACHE_MISSES).inc()


def record_rate_limited(scope: str) -> None:
    """Count one request refused by a rate limit."""
    RATE_LIMITED.labels(scope=scope).inc()


def record_ingest_failures(count: int = 1) -> None:
    """Count documents that failed to ingest."""
    if count:
        INGEST_FAILURES.inc(count)


def set_index_size(documents: int, chunks: int) -> None:
    """Publish the size of the index after an ingest or at start-up."""
    DOCUMENTS_INDEXED.set(documents)
    CHUNKS_INDEXED.set(chunks)


def set_db_pool(in_use: int, size: int) -> None:
    """Publish this process's pool usage (checked-out connections and capacity)."""
    DB_POOL_IN_USE.set(in_use)
    DB_POOL_SIZE.set(size)


def record_http_request(method: str, path: str, status: int, seconds: float) -> None:
    """Count one HTTP request and observe its duration; ``path`` is the route template."""
    HTTP_REQUESTS.labels(method=method, path=path, status=str(status)).inc()
    HTTP_REQUEST_DURATION.labels(method=method, path=path).observe(seconds)


def record_job_task(outcome: str, seconds: float) -> None:
    """Count one settled job task (``failed`` or not) and observe its duration."""
    (JOBS_FAILED if outcome == "failed" else JOBS_DONE).inc()
    JOB_TASK_SECONDS.observe(seconds)


def set_job_backlog(queued: int, running: int) -> None:
    """Publish the job tasks waiting and running (read from the database)."""
    JOBS_QUEUED.set(queued)
    JOBS_RUNNING.set(running)
