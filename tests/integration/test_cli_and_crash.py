"""The command line as a user runs it, and recovery from kill -9 or Ctrl-C mid-ingest."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from clirun import cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_ingest_ask_search_eval_from_the_command_line(tmp_path: Path, fixture_corpus: Path) -> None:
    data = tmp_path / "data"
    ingested = cli("ingest", str(fixture_corpus), "--json", data_dir=data)
    assert ingested.returncode == 0, ingested.stderr
    summary = json.loads(ingested.stdout)
    assert {k: summary[k] for k in ("added", "updated", "unchanged", "removed")} == {
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
    }
    assert summary["failed"] == 0 and summary["failures"] == []
    assert summary["chunks"] > 3 and summary["seconds"] > 0

    asked = cli("ask", "How often is the Fresnel lens cleaned?", "--json", data_dir=data)
    answer = json.loads(asked.stdout)
    assert answer["grounded"] is True
    assert answer["citations"][0]["url"] == "/read/lighthouse.md#lamp-maintenance"
    assert set(answer) >= {"answer", "session_id", "message_id", "grounded", "citations"}

    batch = cli(
        "search",
        "-",
        "--json",
        "--top-k",
        "2",
        data_dir=data,
        stdin="compost heap turning\n\nfog horn\n",
    )
    lines = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["results"][0]["source"] for r in lines] == ["guides/composting.html", "lighthouse.md"]
    assert all(len(r["results"]) == 2 for r in lines)
    assert set(lines[0]["results"][0]) == {
        "source",
        "title",
        "section",
        "url",
        "text",
        "score",
        "document_id",
        "chunk_id",
    }

    queries = tmp_path / "q.jsonl"
    queries.write_text(
        json.dumps(
            {
                "id": "1",
                "question": "When does the keeper start the fog horn?",
                "relevant": ["lighthouse.md"],
                "answer": "When visibility falls below two nautical miles.",
            }
        )
        + "\n"
    )
    evaluated = cli("eval", str(queries), "--json", data_dir=data)
    metrics = json.loads(evaluated.stdout)["metrics"]
    assert metrics["recall@5"] == 1.0 and metrics["ndcg@10"] == 1.0
    assert metrics["abstention_rate"] == 0.0 and metrics["citation_hit_rate"] == 1.0
    assert metrics["citation_reach@5"] == 1.0 and metrics["false_abstentions"] == 0.0

    ood = tmp_path / "ood.jsonl"
    ood.write_text(
        json.dumps({"id": "far", "question": "Who won the 2018 football World Cup?"})
        + "\n"
        + json.dumps({"question": "How do I repaint a lighthouse?", "near_topic": True})
        + "\n"
    )
    both = json.loads(cli("eval", str(queries), "--ood", str(ood), "--json", data_dir=data).stdout)
    rows = both["out_of_domain"]
    assert [(r["id"], r["near_topic"]) for r in rows] == [("far", False), ("ood-2", True)]
    declined = [not r["grounded"] for r in rows]
    assert both["metrics"]["ood_declined_rate"] == sum(declined) / 2
    assert both["metrics"]["ood_near_topic_declined_rate"] == float(declined[1])
    table = cli("eval", str(queries), "--ood", str(ood), "--per-question", data_dir=data)
    assert table.returncode == 0, table.stderr
    for expected in ("lighthouse.md", "far", "near-topic", "ood_declined_rate"):
        assert expected in table.stdout


def test_a_bad_setting_stops_the_command_naming_the_variable(tmp_path: Path) -> None:
    result = cli("search", "x", data_dir=tmp_path, EMBEDDING_BATCH_SIZE="lots")
    assert result.returncode == 2
    assert "EMBEDDING_BATCH_SIZE" in result.stderr


def test_a_missing_path_is_reported_not_crashed_on(tmp_path: Path) -> None:
    result = cli("ingest", str(tmp_path / "nope"), "--json", data_dir=tmp_path / "data")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["failed"] == 1
    assert summary["failures"][0]["reason"] == "no such file or directory"


def _write_corpus(root: Path, files: int) -> None:
    root.mkdir()
    for i in range(files):
        sections = "\n\n".join(
            f"## Topic {i}-{j}\n\n"
            + " ".join(f"Fact {i}.{j}.{k} about subject {i}." for k in range(40))
            for j in range(4)
        )
        (root / f"doc{i:02d}.md").write_text(f"# Document {i}\n\n{sections}\n")


def _committed_documents(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_an_ingest_stopped_mid_run_then_rerun_leaves_no_duplicate_and_no_orphan(
    tmp_path: Path, stop: signal.Signals
) -> None:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    _write_corpus(corpus, files=30)
    process = subprocess.Popen(
        [sys.executable, "-m", "rag_chatbot", "ingest", str(corpus), "--json"],
        env={**os.environ, "DATA_DIR": str(data)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # As in a terminal: a process started in the background by a script ignores SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    db = data / "rag-chatbot.db"
    deadline = time.monotonic() + 240
    while _committed_documents(db) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(stop)
    # Ctrl-C stops the ingest within seconds (between two model calls), not at its end.
    assert process.wait(timeout=10) != 0
    before = _committed_documents(db)
    assert 3 <= before < 30, "the kill must land in the middle of the ingest"

    rerun = cli("ingest", str(corpus), "--json", data_dir=data)
    summary = json.loads(rerun.stdout)
    assert summary["failed"] == 0
    assert summary["added"] + summary["unchanged"] == 30
    assert summary["unchanged"] >= before - 1  # at most the document being written is redone

    fresh = cli("ingest", str(corpus), "--json", data_dir=tmp_path / "fresh")
    expected_chunks = json.loads(fresh.stdout)["chunks"]

    from rag_chatbot.config import Settings
    from rag_chatbot.container import embedding_identity
    from rag_chatbot.db.engine import create_db_engine, session_factory
    from rag_chatbot.db.repository import DocumentRepository
    from rag_chatbot.providers.vector_stores.payload import collection_name
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    settings = Settings(data_dir=data)  # type: ignore[call-arg]
    engine = create_db_engine(settings)
    repository = DocumentRepository(session_factory(engine))
    model, dimension = embedding_identity(settings)
    store = QdrantEdgeStore(data / "qdrant" / collection_name(model), dimension)
    try:
        rows = repository.all_chunk_ids()
        assert store.ids() == rows  # no orphan point, no row without its point
        assert len(rows) == expected_chunks  # no duplicate chunk
        assert len(repository.list_documents()) == 30
    finally:
        store.close()
        engine.dispose()


def test_quickstart_indexes_the_docs_and_answers_with_citations(tmp_path: Path) -> None:
    result = cli("quickstart", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "failed 0" in result.stdout
    assert "[1]" in result.stdout
    assert "/read/getting-started.md#" in result.stdout


def test_quickstart_serve_opens_the_reader_on_what_it_indexed(tmp_path: Path) -> None:
    from servers import free_port, stop

    port = free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    with (tmp_path / "out.txt").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "rag_chatbot", "quickstart", "--serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                library = httpx.get(base + "/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError((tmp_path / "out.txt").read_text())
        assert library.status_code == 200 and "Getting started" in library.text
        asked = httpx.post(base + "/api/chat", json={"message": "How do I ingest a folder?"})
        assert asked.json()["citations"][0]["url"].startswith("/read/getting-started.md#")
    finally:
        # A graceful stop: uvicorn shuts down, then re-raises the SIGTERM it caught.
        assert stop(process) in (0, -signal.SIGTERM)
    printed = (tmp_path / "out.txt").read_text()
    assert "[1]" in printed and f"http://127.0.0.1:{port}/" in printed


def test_text_output_lists_failures_and_skipped_files(tmp_path: Path, fixture_corpus: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text("# Notes\n\nThe harbour master keeps the tide tables.\n")
    (corpus / "broken.docx").write_bytes(b"not a zip at all")
    (corpus / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = cli("ingest", str(corpus), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "added 1" in result.stdout and "failed 1" in result.stdout
    assert "failed: broken.docx:" in result.stdout
    assert "skipped: picture.png:" in result.stdout


def test_several_workers_refuse_an_index_open_elsewhere(tmp_path: Path) -> None:
    # Without QDRANT_URL the parent opens the embedded index to share it with its workers;
    # when another process holds it, serve says so and stops before starting any worker.
    from rag_chatbot.config import Settings
    from rag_chatbot.container import embedding_identity
    from rag_chatbot.providers.vector_stores.payload import collection_name
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    data = tmp_path / "data"
    model, dimension = embedding_identity(Settings(data_dir=data))  # type: ignore[call-arg]
    holder = QdrantEdgeStore(data / "qdrant" / collection_name(model), dimension)
    # A port already taken: were the refusal gone, serve would fail at once, not serve.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            port = str(taken.getsockname()[1])
            result = cli("serve", "--workers", "2", "--port", port, data_dir=data)
        finally:
            holder.close()
    assert result.returncode == 2
    assert "already open" in result.stderr
    assert not (data / "run" / "vector-store.sock").exists()
