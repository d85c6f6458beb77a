"""Ingest by workers: passages/s with 1 and 2 `rag-chatbot worker` processes, and what the queue
itself costs a task.

    python benchmarks/workers.py [--corpus DIR] [--pages N] [--workers 1 2] [--tasks N]
                                 [--skip-ingest] [--skip-overhead] [--redelivery] [--json]

Ingest, for each worker count: a fresh DATA_DIR and a fresh PostgreSQL database (created on
127.0.0.1:5432, dropped after), `rag-chatbot serve` holding the embedded index and sharing it,
then the workers (one task thread and one model thread each: WORKER_CONCURRENCY=1,
EMBEDDING_THREADS=1), started and their models loaded before the clock starts. One
`POST /api/jobs` of the corpus, timed until `GET /api/jobs/{id}` says done: passages/s is the
job's passages over that time. `--pages N` takes the first N pages (by name) of the corpus.

Overhead, without any document: a Dramatiq worker with one thread in this process consumes
`--tasks` messages sent through `BrokerQueue` (as the workers use it); per task, from the first
send to the last message handled. Then the same with the job layer's bookkeeping in each
handler (a task row claimed and settled in PostgreSQL). With `celery` importable, a Celery
worker (one thread, `acks_late`, the same Redis) runs the same no-op tasks, for the comparison
in docs/jobs.md. Queues and Redis database 13 are this script's own; it deletes its keys.

Redelivery (``--redelivery``): a worker process (one thread) takes a 40-second task and is
killed with -9 five seconds in; a second worker is started at once. How long until the task
starts again in the second one (at most 120 s watched): Dramatiq as ``BrokerQueue`` configures
it, then Celery with ``task_acks_late``, ``task_reject_on_worker_lost`` and a 20-second
visibility timeout (its default is an hour), on the same Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"
PG = "postgresql://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/13"
ADMIN_TOKEN = "benchmark-admin-token-0123456789"
SECRET = "benchmark-only-jwt-secret-0123456789abcdef-0123"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database(name: str, drop: bool = False) -> None:
    sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' if drop else f'CREATE DATABASE "{name}"'
    subprocess.run(["psql", f"{PG}/test", "-qc", sql], check=True, capture_output=True)


def _purge(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = [*client.scan_iter(f"rag-chatbot:{queue}*"), *client.scan_iter(f"*{queue}*")]
    if keys:
        client.delete(*keys)
    client.close()


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def ingest(corpus: Path, workers: int, work: Path) -> dict[str, Any]:
    """One run: serve + ``workers`` workers, one job of ``corpus``; its figures."""
    name = f"bench_workers_{secrets.token_hex(4)}"
    queue = f"bench-{secrets.token_hex(4)}"
    root = work / f"{workers}-workers"
    root.mkdir()
    env = {
        **os.environ,
        "DATA_DIR": str(root / "data"),
        "DATABASE_URL": f"{PG}/{name}",
        "BROKER_URL": REDIS,
        "JOB_QUEUE": queue,
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": SECRET,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "EMBEDDING_THREADS": "1",
        "WORKER_CONCURRENCY": "1",
        "WORKER_METRICS_PORT": "0",
        "LOG_FORMAT": "text",
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    _database(name)
    processes: list[subprocess.Popen[bytes]] = []

    def spawn(log: str, *args: str) -> subprocess.Popen[bytes]:
        with (root / log).open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "rag_chatbot", *args],
                env=env,
                cwd=root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process

    try:
        spawn("serve.log", "serve", "--port", str(port))
        _wait_for(lambda: _healthy(base), 300, "serve")
        for n in range(workers):
            spawn(f"worker-{n}.log", "worker")
        for n in range(workers):
            _wait_for(_started(root / f"worker-{n}.log"), 300, "a worker")
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        started = time.perf_counter()
        posted = httpx.post(
            f"{base}/api/jobs", json={"kind": "ingest", "path": str(corpus)}, headers=headers
        )
        posted.raise_for_status()
        job_id = posted.json()["id"]
        while True:
            job = httpx.get(f"{base}/api/jobs/{job_id}", headers=headers, timeout=60).json()
            if job["state"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.25)
        seconds = time.perf_counter() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=120)
        _database(name, drop=True)
        _purge(queue)
    return {
        "workers": workers,
        "state": job["state"],
        "documents": job["documents_total"],
        "failed": len(job["failures"]),
        "passages": job["passages"],
        "seconds": round(seconds, 1),
        "passages_per_second": round(job["passages"] / seconds, 1),
    }


def _started(log: Path) -> Callable[[], bool]:
    return lambda: "worker started" in log.read_text()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def overhead(tasks: int) -> dict[str, Any]:
    """ms a task costs in the queue alone, then with the job layer's bookkeeping."""
    import dramatiq

    from rag_chatbot.jobs.broker import BrokerQueue

    figures: dict[str, Any] = {}
    name = f"bench_overhead_{secrets.token_hex(4)}"
    _database(name)
    try:
        for label, keeping in (("dramatiq", False), ("dramatiq + job rows", True)):
            queue = BrokerQueue(REDIS, f"bench-{secrets.token_hex(4)}")
            handlers = _NoOp(tasks, f"{PG}/{name}" if keeping else None)
            queue.attach(handlers)
            worker = dramatiq.Worker(
                queue.broker, queues={queue.queue}, worker_threads=1, worker_timeout=100
            )
            worker.queue_prefetch = 1  # as `rag-chatbot worker` runs
            worker.start()
            job_id = handlers.prepare()
            started = time.perf_counter()
            queue.send_tasks(job_id, range(tasks))
            handlers.done.wait(600)
            figures[label] = round((time.perf_counter() - started) * 1000 / tasks, 2)
            worker.stop()
            queue.close()
            _purge(queue.queue)
    finally:
        _database(name, drop=True)
    celery_ms = _celery(tasks)
    if celery_ms is not None:
        figures["celery (acks_late)"] = celery_ms
    return figures


class _NoOp:
    """Handlers that do nothing but, with a database, claim and settle the task's row."""

    def __init__(self, tasks: int, database_url: str | None) -> None:
        self.tasks = tasks
        self.seen = 0
        self.done = threading.Event()
        self._url = database_url
        self._store: Any = None

    def prepare(self) -> str:
        if self._url is None:
            return "no-job"
        from rag_chatbot.config import Settings
        from rag_chatbot.db.engine import create_db_engine, session_factory
        from rag_chatbot.db.migrate import upgrade_to_head
        from rag_chatbot.jobs.store import JobStore, TaskSpec

        settings = Settings(database_url=self._url, environment="test", jwt_secret_key=SECRET)  # type: ignore[call-arg]
        engine = create_db_engine(settings)
        upgrade_to_head(engine)
        self._store = JobStore(session_factory(engine))
        specs = [TaskSpec("document", f"doc-{n}", "", "") for n in range(self.tasks)]
        return str(self._store.create("ingest", "bench", tasks=specs))

    def plan(self, job_id: str) -> None: ...

    def finish(self, job_id: str) -> None: ...

    def run(self, job_id: str, seq: int) -> None:
        if self._store is not None:
            from rag_chatbot.jobs.store import stale_cutoff

            task = self._store.claim(job_id, seq, "bench:1", stale_cutoff(30))
            self._store.settle(task, "bench:1", "unchanged")
        self.seen += 1
        if self.seen >= self.tasks:
            self.done.set()


def _celery(tasks: int) -> float | None:
    try:
        from celery import Celery
        from celery.contrib.testing.worker import start_worker
    except ImportError:
        return None
    queue = f"bench-celery-{secrets.token_hex(4)}"
    app = Celery("bench", broker=REDIS, backend=None)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
    )
    seen = {"n": 0}
    done = threading.Event()

    @app.task(name="bench.noop", ignore_result=True)  # type: ignore[untyped-decorator]
    def noop(job_id: str, seq: int) -> None:
        seen["n"] += 1
        if seen["n"] >= tasks:
            done.set()

    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, queues=[queue]):
        started = time.perf_counter()
        for seq in range(tasks):
            noop.delay("job", seq)
        done.wait(600)
        elapsed = time.perf_counter() - started
    _purge(queue)
    return round(elapsed * 1000 / tasks, 2)


_DRAMATIQ_CHILD = """
import sys, time, dramatiq
from rag_chatbot.jobs.broker import BrokerQueue
queue = BrokerQueue(sys.argv[1], sys.argv[2])
class Slow:
    def plan(self, job_id): pass
    def finish(self, job_id): pass
    def run(self, job_id, seq):
        print("started", flush=True)
        time.sleep(40)
queue.attach(Slow())
worker = dramatiq.Worker(queue.broker, queues={sys.argv[2]}, worker_threads=1, worker_timeout=1000)
worker.queue_prefetch = 1
worker.start()
while True:
    time.sleep(1)
"""
_CELERY_APP = """
import time
from celery import Celery
app = Celery("slowapp", broker="%s")
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True,
                worker_prefetch_multiplier=1, task_default_queue="%s",
                broker_transport_options={"visibility_timeout": 20},
                broker_connection_retry_on_startup=True)
@app.task(name="slowapp.slow")
def slow():
    print("started", flush=True)
    time.sleep(40)
"""


def redelivery() -> dict[str, float | None]:
    """Seconds from a worker's kill -9 until its task starts again in another (None: never)."""
    found: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="bench-redelivery-") as scratch:
        work = Path(scratch)
        queue = f"bench-redo-{secrets.token_hex(4)}"
        dramatiq_child = [sys.executable, "-c", _DRAMATIQ_CHILD, REDIS, queue]

        def send_dramatiq() -> None:
            from rag_chatbot.jobs.broker import BrokerQueue

            sender = BrokerQueue(REDIS, queue)
            sender.send_tasks("job", [0])
            sender.close()

        found["dramatiq"] = _killed_and_taken(work / "d", dramatiq_child, send_dramatiq)
        _purge(queue)
        try:
            import celery  # noqa: F401
        except ImportError:
            return found
        app = work / "slowapp.py"
        app.write_text(_CELERY_APP % (REDIS, queue))
        celery_child = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "slowapp",
            "worker",
            "--pool=solo",
            "-c",
            "1",
            "-Q",
            queue,
            "--loglevel=warning",
            "-n",
        ]

        def send_celery() -> None:
            subprocess.run(
                [sys.executable, "-c", "import slowapp; slowapp.slow.delay()"], cwd=work, check=True
            )

        found["celery"] = _killed_and_taken(work / "c", celery_child, send_celery, named=True)
        _purge(queue)
        import redis

        client = redis.Redis.from_url(REDIS)
        # Celery's own keys in this database: the killed task's, the workers' event bindings.
        client.delete("unacked", "unacked_index", *client.scan_iter("_kombu.binding*"))
        client.close()
    return found


def _killed_and_taken(
    root: Path, command: list[str], send: Callable[[], None], named: bool = False
) -> float | None:
    root.mkdir()
    env = {**os.environ, "PYTHONPATH": str(root.parent)}

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = root / f"{name}.log"
        with log.open("wb") as out:
            args = [*command, f"{name}@bench"] if named else command
            process = subprocess.Popen(args, cwd=root.parent, env=env, stdout=out, stderr=out)
        return process, log

    first, first_log = start("first")
    time.sleep(8)  # its consumer connected
    send()
    _wait_for(lambda: "started" in first_log.read_text(), 60, "the first worker's task")
    time.sleep(5)
    first.kill()
    first.wait()
    killed = time.monotonic()
    second, second_log = start("second")
    try:
        while time.monotonic() - killed < 120:
            if "started" in second_log.read_text():
                return round(time.monotonic() - killed, 1)
            time.sleep(0.5)
        return None
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=60)
        except subprocess.TimeoutExpired:
            second.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "sqlite")
    parser.add_argument("--pages", type=int, default=0, help="the first N pages only")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--redelivery", action="store_true", help="also time a kill -9's redo")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"runs": [], "overhead_ms_per_task": {}, "redelivery_s": {}}
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as scratch:
        work = Path(scratch)
        corpus = args.corpus.resolve()
        if args.pages:
            corpus = work / "corpus"
            corpus.mkdir()
            for page in sorted(p for p in args.corpus.iterdir() if p.is_file())[: args.pages]:
                shutil.copy(page, corpus / page.name)
        if not args.skip_ingest:
            for count in args.workers:
                results["runs"].append(ingest(corpus, count, work))
    if not args.skip_overhead:
        results["overhead_ms_per_task"] = overhead(args.tasks)
    if args.redelivery:
        results["redelivery_s"] = redelivery()
    if args.json:
        print(json.dumps(results))
        return
    for run in results["runs"]:
        print(
            f"{run['workers']} worker(s): {run['documents']} documents, {run['passages']} passages "
            f"in {run['seconds']} s = {run['passages_per_second']} passages/s ({run['state']}, "
            f"{run['failed']} failed)"
        )
    for label, ms in results["overhead_ms_per_task"].items():
        print(f"queue overhead, {label}: {ms} ms a task")
    for label, seconds in results["redelivery_s"].items():
        taken = f"after {seconds} s" if seconds is not None else "not within 120 s"
        print(f"a killed worker's task, {label}: started again {taken}")


if __name__ == "__main__":
    main()
