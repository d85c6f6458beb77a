"""Real worker processes on the real broker and PostgreSQL, beside a `serve` that shares the
embedded index: two workers index as one process does; a worker killed with -9, a worker
stopped with SIGTERM, a broker restarted (and emptied) mid-job lose no document and leave no
duplicate or orphan passage; a document that fails fails alone.

Run one at a time: each embeds for real on the machine's cores.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from job_processes import Deployment, RedisServer, environment, free_port
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from testing_secrets import TEST_JWT_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

SHARED = Path(__file__).resolve().parents[3] / "shared"
SQLITE_DOCS = SHARED / "eval" / "docs-faq" / "corpus" / "sqlite"
QUERIES = SHARED / "eval" / "docs-faq" / "queries.jsonl"


def _large(count: int) -> list[Path]:
    """``count`` large pages of the SQLite manual (a few seconds each to embed), not the
    largest (a minute each)."""
    pages = sorted(SQLITE_DOCS.glob("*.html"), key=lambda p: p.stat().st_size, reverse=True)
    return sorted(pages[30 : 30 + count])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for page in _large(12):
        shutil.copy(page, folder / page.name)
    assert len(list(folder.iterdir())) == 12, f"the SQLite manual is missing from {SQLITE_DOCS}"
    return folder


@pytest.fixture
def deploy(tmp_path: Path, postgres_url: str, redis_queue: tuple[str, str]) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, environment(tmp_path, postgres_url, *redis_queue))
    deployment.serve()
    yield deployment
    deployment.stop()


def _stored(database_url: str) -> dict[str, Any]:
    """Documents, passages and the workers that ran each task, read from the database."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as db:
            documents = {
                source: (digest, count)
                for source, digest, count in db.execute(
                    text("SELECT source, content_hash, chunk_count FROM documents")
                )
            }
            chunks = [row[0] for row in db.execute(text("SELECT id FROM chunks"))]
            runners = [row[0] for row in db.execute(text("SELECT runner FROM job_tasks"))]
        return {"documents": documents, "chunks": chunks, "runners": runners}
    finally:
        engine.dispose()


def _index_ids(data_dir: Path) -> set[str]:
    """The points of the embedded index, opened here once `serve` has stopped."""
    from rag_chatbot.backends import embedding_identity
    from rag_chatbot.config import Settings
    from rag_chatbot.providers.vector_stores.payload import collection_name
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    settings = Settings(  # type: ignore[call-arg]
        environment="test", data_dir=data_dir, jwt_secret_key=TEST_JWT_SECRET
    )
    name, dimension = embedding_identity(settings)
    store = QdrantEdgeStore(data_dir / "qdrant" / collection_name(name), dimension)
    try:
        return store.ids()
    finally:
        store.close()


def _task_of(database_url: str, pid: int, timeout: float = 120) -> int:
    """Wait until the worker ``pid`` holds a task; its number."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                held = db.execute(
                    text("SELECT seq FROM job_tasks WHERE state = 'running' AND runner LIKE :me"),
                    {"me": f"%:{pid}"},
                ).first()
            if held is not None:
                return int(held[0])
            time.sleep(0.05)
        raise AssertionError(f"worker {pid} took no task")
    finally:
        engine.dispose()


def _task(database_url: str, seq: int) -> tuple[str, str, int]:
    """The task's state, runner and attempts."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as db:
            row = db.execute(
                text("SELECT state, runner, attempts FROM job_tasks WHERE seq = :seq"), {"seq": seq}
            ).one()
        return str(row[0]), str(row[1]), int(row[2])
    finally:
        engine.dispose()


def _whole(deploy: Deployment, database_url: str, job: dict[str, Any], files: int) -> None:
    """Every file indexed once: no failure, no duplicate passage, no orphan point."""
    assert job["state"] == "done", job
    assert job["documents_total"] == job["documents_done"] == files
    assert job["failures"] == [] and job["counts"]["added"] == files
    deploy.stop()
    stored = _stored(database_url)
    assert len(stored["documents"]) == files
    assert len(stored["chunks"]) == len(set(stored["chunks"])) == job["passages"]
    assert sum(count for _, count in stored["documents"].values()) == job["passages"]
    assert _index_ids(deploy.root / "data") == set(stored["chunks"])


@pytest.mark.timeout(3600)
def test_two_workers_index_the_sqlite_manual_as_one_process_does(
    tmp_path: Path, deploy: Deployment, postgres_url: str
) -> None:
    # One process, as `rag-chatbot ingest` always did: the reference.
    alone = tmp_path / "alone"
    alone.mkdir()
    env = {**deploy.env, "DATA_DIR": str(alone / "data"), "BROKER_URL": ""}
    env.pop("DATABASE_URL")
    single = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "ingest", str(SQLITE_DOCS), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    reference = json.loads(single.stdout)
    first, second = deploy.worker(), deploy.worker()
    job_id = deploy.submit({"kind": "ingest", "path": str(SQLITE_DOCS)})
    job = deploy.wait(job_id, timeout=1800)
    assert job["state"] == "done" and job["failures"] == []
    assert job["passages"] == reference["chunks"]
    assert job["counts"]["added"] == reference["added"]
    queries = [json.loads(line)["question"] for line in QUERIES.read_text().splitlines()[:12]]
    served = [deploy.search(q) for q in queries]
    logs = deploy.log(first) + deploy.log(second)
    deploy.stop()
    stored = _stored(postgres_url)
    assert {r for r in stored["runners"]} and len(set(stored["runners"])) == 2, (
        "both workers ran tasks"
    )
    assert len(stored["chunks"]) == len(set(stored["chunks"])) == reference["chunks"]
    assert _index_ids(deploy.root / "data") == set(stored["chunks"])
    # The same documents, passages and answers to searches as the single process.
    searched = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "search", "-", "--json"],
        input="\n".join(queries),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    alone_results = [json.loads(line)["results"] for line in searched.stdout.splitlines()]
    engine = create_engine(f"sqlite:///{alone / 'data' / 'rag-chatbot.db'}")
    try:
        with engine.connect() as db:
            rows = db.execute(text("SELECT source, content_hash, chunk_count FROM documents"))
            assert {s: (h, n) for s, h, n in rows} == stored["documents"]
            alone_chunks = {row[0] for row in db.execute(text("SELECT id FROM chunks"))}
            assert alone_chunks == set(stored["chunks"])
    finally:
        engine.dispose()
    for query, mine, theirs in zip(queries, served, alone_results, strict=True):
        assert [r["chunk_id"] for r in mine] == [r["chunk_id"] for r in theirs], query
    assert "Traceback" not in logs


def test_a_worker_killed_with_minus_9_loses_nothing(
    deploy: Deployment, corpus: Path, postgres_url: str
) -> None:
    doomed, survivor = deploy.worker(), deploy.worker()
    job_id = deploy.submit({"kind": "ingest", "path": str(corpus)})
    seq = _task_of(postgres_url, doomed.pid)
    doomed.send_signal(signal.SIGKILL)  # mid-task: its message was never acknowledged
    doomed.wait(timeout=30)
    job = deploy.wait(job_id, timeout=600)
    assert "Traceback" not in deploy.log(survivor)
    state, runner, attempts = _task(postgres_url, seq)
    assert state == "done" and runner.endswith(f":{survivor.pid}") and attempts == 2
    _whole(deploy, postgres_url, job, files=12)


def test_a_stopped_worker_hands_its_task_back(
    deploy: Deployment, corpus: Path, postgres_url: str
) -> None:
    stopped = deploy.worker("--grace", "0")
    job_id = deploy.submit({"kind": "ingest", "path": str(corpus)})
    seq = _task_of(postgres_url, stopped.pid)
    began = time.monotonic()
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(timeout=60) == 0
    assert time.monotonic() - began < 30
    log = deploy.log(stopped)
    assert "tasks handed back" in log and "worker stopped" in log
    assert _task(postgres_url, seq)[0] == "queued"  # released, and sent again
    assert deploy.job(job_id)["state"] == "running"
    successor = deploy.worker()
    job = deploy.wait(job_id, timeout=600)
    assert "Traceback" not in deploy.log(successor)
    state, runner, _ = _task(postgres_url, seq)
    assert state == "done" and runner.endswith(f":{successor.pid}")
    _whole(deploy, postgres_url, job, files=12)


def test_a_broker_restarted_empty_mid_job_still_ends_the_job(
    tmp_path: Path, postgres_url: str, own_redis: RedisServer, corpus: Path
) -> None:
    deploy = Deployment(tmp_path, environment(tmp_path, postgres_url, own_redis.url, "restarted"))
    try:
        deploy.serve()
        deploy.worker()
        job_id = deploy.submit({"kind": "ingest", "path": str(corpus)})
        deploy.wait(job_id, timeout=300, until="working")
        own_redis.kill()  # no persistence: every queued message is gone
        time.sleep(3)
        own_redis.start()
        job = deploy.wait(job_id, timeout=600)
        _whole(deploy, postgres_url, job, files=12)
    finally:
        deploy.stop()


def test_a_document_that_fails_fails_alone_on_rabbitmq(
    tmp_path: Path, postgres_url: str, rabbitmq_queue: tuple[str, str], fixture_corpus: Path
) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(fixture_corpus, folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    deploy = Deployment(tmp_path, environment(tmp_path, postgres_url, *rabbitmq_queue))
    metrics = free_port()
    try:
        deploy.serve()
        deploy.worker("--metrics-port", str(metrics))
        job = deploy.wait(deploy.submit({"kind": "ingest", "path": str(folder)}), timeout=300)
        assert job["state"] == "done"
        assert job["counts"]["added"] == 3 and job["counts"]["failed"] == 1
        (failure,) = job["failures"]
        assert failure["source"] == "broken.pdf" and "pdf" in failure["reason"].lower()
        assert deploy.search("When does the fog horn sound?")[0]["source"] == "lighthouse.md"
        # The worker's own metrics: each task counted once, by its end.
        scraped = httpx.get(f"http://127.0.0.1:{metrics}/api/metrics", timeout=10)
        samples = {
            s.name: s.value for f in text_string_to_metric_families(scraped.text) for s in f.samples
        }
        assert samples["rag_chatbot_jobs_done_total"] == 3
        assert samples["rag_chatbot_jobs_failed_total"] == 1
        assert samples["rag_chatbot_jobs_task_seconds_count"] == 4
        assert httpx.get(f"http://127.0.0.1:{metrics}/other", timeout=10).status_code == 404
    finally:
        deploy.stop()


def test_ingest_wait_sends_the_folder_to_the_workers_and_reports_as_ingest_does(
    tmp_path: Path, deploy: Deployment, fixture_corpus: Path
) -> None:
    deploy.worker()
    command = [sys.executable, "-m", "rag_chatbot", "ingest", "--wait", "--json"]
    first = subprocess.run(
        [*command, str(fixture_corpus)],
        env=deploy.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert (report["added"], report["failed"], report["chunks"] > 0) == (3, 0, True)
    assert [j["state"] for j in report["jobs"]] == ["done"]
    again = json.loads(
        subprocess.run(
            [*command, str(fixture_corpus)],
            env=deploy.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
    )
    assert again["unchanged"] == 3 and again["added"] == 0
    # Without a broker there are no workers to run: the command says so and stops.
    alone = {k: v for k, v in deploy.env.items() if k != "BROKER_URL"}
    refused = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "worker"],
        env=alone,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2 and "BROKER_URL is not set" in refused.stderr
