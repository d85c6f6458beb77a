"""``rag-chatbot worker``, and ``ingest --wait``: jobs through the broker (``BROKER_URL``).

A worker indexes the documents of queued jobs with its own model, over the vector index it
finds: the Qdrant server (``QDRANT_URL``), else the embedded index a running ``serve`` on
this machine shares (``DATA_DIR/run/``), else the embedded index opened here. SIGTERM ends
it after its task in hand (or hands that task back: ``jobs.worker``).

``ingest --wait`` sends its folders, files and sites as jobs and follows them with a progress
bar, then prints the same report an ingest in process prints.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from rag_chatbot.cli.failures import fail, reported
from rag_chatbot.cli.sites import is_url
from rag_chatbot.config import Settings, load_settings
from rag_chatbot.providers.vector_stores.base import VectorStore

POLL_SECONDS = 0.5


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Documents indexed at once (WORKER_CONCURRENCY)."),
    ] = None,
    queue: Annotated[str | None, typer.Option(help="The queue to consume (JOB_QUEUE).")] = None,
    grace: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds a stop waits for the task in hand before handing it back."
        ),
    ] = 20.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port of /api/metrics (WORKER_METRICS_PORT); 0: none."),
    ] = None,
) -> None:
    """Index the documents of queued ingest jobs (needs BROKER_URL), until SIGTERM."""
    from rag_chatbot.container import build_container
    from rag_chatbot.db.engine import session_factory
    from rag_chatbot.db.leases import ProcessingLeases
    from rag_chatbot.jobs.broker import BrokerQueue
    from rag_chatbot.jobs.keeper import Keeper
    from rag_chatbot.jobs.runner import Runner
    from rag_chatbot.jobs.setup import job_handlers, job_store
    from rag_chatbot.jobs.upkeep import JobUpkeep
    from rag_chatbot.jobs.worker import run_worker, serve_metrics
    from rag_chatbot.observability.logging import configure_logging

    overrides: dict[str, object] = {"job_queue": queue} if queue else {}
    with reported(2):
        settings = load_settings(**overrides)
        configure_logging(settings.log_dir, settings.log_level, settings.log_format)
    if not settings.broker_url:
        raise fail("BROKER_URL is not set: without a broker, ingest runs in the CLI or API", 2)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with reported(2):
        container = build_container(settings, store=_served_index(settings))
        port = settings.worker_metrics_port if metrics_port is None else metrics_port
        if port:
            serve_metrics(port)
    try:
        with reported(1):
            sessions = session_factory(container.engine)
            broker = BrokerQueue(settings.broker_url, settings.job_queue, settings.job_max_retries)
            runner = Runner(f"{socket.gethostname()}:{os.getpid()}")
            store = job_store(container)
            handlers = job_handlers(container, store, broker, runner)
            keeper = Keeper(store, JobUpkeep(sessions), broker, ProcessingLeases(sessions), runner)
            run_worker(
                broker,
                handlers,
                keeper,
                stop,
                concurrency=concurrency or settings.worker_concurrency,
                grace=grace,
            )
    finally:
        container.close()


def _served_index(settings: Settings) -> VectorStore | None:
    """The embedded index a ``serve`` on this machine shares, if one does (and answers)."""
    from rag_chatbot.errors import ProviderError
    from rag_chatbot.providers.vector_stores.shared.client import SharedVectorStore
    from rag_chatbot.providers.vector_stores.shared.workers import announced

    if settings.qdrant_url:
        return None
    found = announced(settings.data_dir.resolve() / "run")
    if found is None:
        return None
    store = SharedVectorStore(*found, timeout=30.0)
    try:
        store.count()
    except ProviderError:  # announced by a server that is gone
        store.close()
        return None
    return store


def follow_ingest(
    targets: list[str], crawl_flags: dict[str, Any], every: str | None, as_json: bool
) -> dict[str, Any] | None:
    """``ingest --wait``: the jobs' merged report, or None without a broker (ingest in process)."""
    from rag_chatbot.cli.runtime import err

    if every:
        raise fail("--wait follows one run; a schedule (--every) is the server's to keep")
    crawl = {k: v for k, v in crawl_flags.items() if v not in (None, [])}
    return follow_jobs(targets, crawl, err if err.is_terminal and not as_json else None)


def follow_jobs(
    targets: list[str], crawl: dict[str, object], console: Console | None
) -> dict[str, Any] | None:
    """Send ``targets`` as jobs and wait for them; their merged report. None: no broker."""
    from rag_chatbot.db.engine import create_db_engine, session_factory
    from rag_chatbot.db.migrate import upgrade_to_head
    from rag_chatbot.jobs.broker import BrokerQueue
    from rag_chatbot.jobs.service import JobService
    from rag_chatbot.jobs.store import JobStore

    with reported(2):
        settings = load_settings()
    if not settings.broker_url:
        return None
    with reported(2):
        engine = create_db_engine(settings)
        upgrade_to_head(engine)
    broker = BrokerQueue(settings.broker_url, settings.job_queue, settings.job_max_retries)
    service = JobService(JobStore(session_factory(engine)), broker, settings.data_dir / "uploads")
    try:
        with reported(1):
            ids = [service.submit_ingest(t, crawl if is_url(t) else None).id for t in targets]
            return _report(service, ids, console)
    finally:
        broker.close()
        engine.dispose()


def _report(service: Any, ids: list[str], console: Console | None) -> dict[str, Any]:
    started = time.perf_counter()
    views = _wait(service, ids, console)
    failures = [f for view in views for f in view["failures"]]
    counts = {k: sum(v["counts"][k] for v in views) for k in views[0]["counts"]}
    return {
        **{k: counts[k] for k in ("added", "updated", "unchanged", "removed")},
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "failures": failures,
        "chunks": sum(v["passages"] for v in views),
        "seconds": round(time.perf_counter() - started, 3),
        "jobs": [{"id": v["id"], "state": v["state"], "error": v["error"]} for v in views],
    }


def _wait(service: Any, ids: list[str], console: Console | None) -> list[dict[str, Any]]:
    """Poll the jobs until each has ended, drawing their progress on ``console``."""
    progress = None
    if console is not None:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} documents"),
            TextColumn("{task.fields[passages]} passages"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=console,
        )
        progress.start()
    bars = {
        i: progress.add_task(f"job {i[:8]}", total=None, passages=0, eta="")
        for i in ids
        if progress
    }
    try:
        while True:
            views = [service.view(i) for i in ids]
            for view in views:
                if progress is not None:
                    eta = view["eta_seconds"]
                    progress.update(
                        bars[view["id"]],
                        completed=view["documents_done"],
                        total=view["documents_total"] or None,
                        passages=view["passages"],
                        eta=f"{eta:.0f} s left" if eta is not None else view["state"],
                    )
            if all(v["state"] in ("done", "failed", "cancelled") for v in views):
                return views
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        raise fail(f"stopped waiting; the jobs go on: {', '.join(ids)}", 130) from None
    finally:
        if progress is not None:
            progress.stop()
