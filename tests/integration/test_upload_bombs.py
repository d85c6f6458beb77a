"""A real server: expanding uploads fail with memory bounded, and nothing stays ``processing``.

The server's memory is its process tree's resident set (psutil, children included), sampled
every 50 ms while the uploads are ingested. ``rag-chatbot ingest DIR`` meets the same limits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from bombs import docx_bomb
from servers import start_server, stop
from sqlalchemy import update
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.models import DocumentRow, utcnow
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.ingestion.chunking import document_id_for
from rag_chatbot.ingestion.loaders.archive import MAX_PART_BYTES
from rag_chatbot.ingestion.loaders.limits import MAX_XML_NODES
from rag_chatbot.ingestion.watch import INTERRUPTED, STALE_AFTER_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
MB = 1024 * 1024
# The server stood at ~520 MB when the reported bomb took it to 4.5 GB; refusing a bomb may
# cost a few buffers, never a tree.
BOUND = 300 * MB


def environment(root: Path) -> dict[str, str]:
    return {
        "DATA_DIR": str(root / "data"),
        "LOG_DIR": str(root / "logs"),
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "RATE_LIMIT_DEFAULT": "100000/minute",  # the limits have tests of their own
    }


def upload(base: str, name: str, data: bytes) -> str:
    response = httpx.post(
        f"{base}/api/documents", files={"file": (name, data)}, headers=ADMIN, timeout=60
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def document(base: str, document_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/documents/{document_id}", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def finished(base: str, document_id: str, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while (doc := document(base, document_id))["status"] == "processing":
        assert time.monotonic() < deadline, f"{doc['source']} is still processing"
        time.sleep(0.25)
    return doc


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


@contextmanager
def peak_rss(pid: int) -> Iterator[list[int]]:
    """Yields a list whose one item is the highest RSS of ``pid``'s tree seen while inside."""
    process = psutil.Process(pid)
    peak = [tree_rss(process)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], tree_rss(process))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def test_docx_bombs_uploaded_by_the_admin_fail_and_the_server_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    reported = docx_bomb(31_500_000)  # 189 MB of <w:p/> unpacked, as reported
    counted = docx_bomb(MAX_XML_NODES + 100_000)  # 12 MB: under the part size limit
    process, base = start_server(tmp_path, environment(tmp_path))
    try:
        # Warm up first: the model and the ingest path are loaded by the first upload.
        warm = upload(base, "harbour.md", b"# Harbour\n\nBoats moor stern-to at the quay.\n")
        assert finished(base, warm, within=120)["status"] == "completed"
        before = tree_rss(psutil.Process(process.pid))

        with peak_rss(process.pid) as peak:
            reported_id = upload(base, "reported.docx", reported)
            counted_id = upload(base, "counted.docx", counted)
            first = finished(base, reported_id, within=120)
            second = finished(base, counted_id, within=120)

        assert first["status"] == "failed"
        assert first["error"].startswith("reported.docx: part word/document.xml would unpack")
        assert f"{MAX_PART_BYTES}-byte limit" in first["error"]
        assert second["status"] == "failed"
        assert second["error"] == (
            "counted.docx: part word/document.xml has more than 2,000,000 elements, "
            "over the limit for one part"
        )
        grew = peak[0] - before
        assert grew < BOUND, f"the server grew by {grew // MB} MB (from {before // MB} MB)"
        health = httpx.get(f"{base}/api/health", timeout=10)
        assert health.status_code == 200
    finally:
        stop(process)


def test_documents_a_dead_process_left_processing_are_failed_when_a_server_starts(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path)
    settings = Settings(  # type: ignore[call-arg]
        data_dir=Path(env["DATA_DIR"]), environment="test", jwt_secret_key=TEST_JWT_SECRET
    )
    engine = create_db_engine(settings)
    repository = DocumentRepository(session_factory(engine))
    repository.create_schema()
    # What a server killed an hour ago left, and an upload another replica accepted just now.
    for source, age in (("dead.docx", 3600.0), ("elsewhere.md", 0.0)):
        repository.mark_processing(document_id_for(source), source)
        with session_factory(engine).begin() as session:
            session.execute(
                update(DocumentRow)
                .where(DocumentRow.source == source)
                .values(updated_at=utcnow() - timedelta(seconds=age))
            )
    engine.dispose()

    process, base = start_server(tmp_path, env)
    try:
        dead = finished(base, document_id_for("dead.docx"), within=30)
        assert (dead["status"], dead["error"]) == ("failed", INTERRUPTED)
        assert document(base, document_id_for("elsewhere.md"))["status"] == "processing"
    finally:
        stop(process)


def test_a_server_killed_mid_ingest_leaves_nothing_processing_after_a_restart(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path)
    paragraphs = (
        f"The keeper's log, entry {n}: wind from the {n % 7}th quarter, lamp trimmed, lens "
        f"polished, {n % 13} ships passed the reef before dawn and the fog bell rang {n} times."
        for n in range(4000)
    )
    long_log = ("# Keeper's log\n\n" + "\n\n".join(paragraphs) + "\n").encode()
    process, base = start_server(tmp_path, env)
    try:
        document_id = upload(base, "keepers-log.md", long_log)
        time.sleep(0.5)
        assert document(base, document_id)["status"] == "processing"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    process, base = start_server(tmp_path, env)
    try:
        doc = finished(base, document_id, within=STALE_AFTER_SECONDS + 60)
        assert (doc["status"], doc["error"]) == ("failed", INTERRUPTED)
    finally:
        stop(process)


def test_a_directory_ingest_refuses_a_bomb_alone_with_the_same_limits(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "bomb.docx").write_bytes(docx_bomb(MAX_XML_NODES + 100_000))
    (folder / "harbour.md").write_text("# Harbour\n\nBoats moor stern-to at the quay.\n")
    env = {**os.environ, **environment(tmp_path)}

    ingested = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "ingest", str(folder), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert ingested.returncode == 0, ingested.stderr
    report = json.loads(ingested.stdout)
    assert report["added"] == 1
    assert report["failures"] == [
        {
            "source": "bomb.docx",
            "reason": "bomb.docx: part word/document.xml has more than 2,000,000 elements, "
            "over the limit for one part",
        }
    ]
