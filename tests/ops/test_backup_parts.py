"""The pieces full-backup.sh and dr-test.sh are built from, one at a time (fast).

The Qdrant server snapshot is taken from a stand-in HTTP server that answers the four
endpoints as Qdrant's API documents them: no Qdrant server can be installed here. Everything
else runs for real on files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from rag_chatbot.errors import InvalidInput, ProviderUnavailable
from rag_chatbot.ops import bundle
from rag_chatbot.ops.dbfiles import file_kind
from rag_chatbot.ops.questions import choose_questions, differences
from rag_chatbot.ops.textfile import main as textfile_main
from rag_chatbot.ops.vector_copy import snapshot_server_collection


def test_questions_come_from_the_file_then_the_most_asked_then_titles(tmp_path: Path) -> None:
    messages = [
        {"role": "user", "content": "b?"},
        {"role": "assistant", "content": "b."},
        {"role": "user", "content": " a? "},
        {"role": "user", "content": "a?"},
        {"role": "user", "content": "c?"},
    ]
    documents = [{"source": "z.md", "title": "Zebra"}, {"source": "a.md", "title": "Ant"}]
    listed = tmp_path / "questions.txt"
    listed.write_text("# monthly drill\nWhat is X?\n\n  What is Y?  \n")

    assert choose_questions(listed, messages, documents)[0] == ["What is X?", "What is Y?"]
    assert choose_questions(None, messages, documents, 2) == (["a?", "b?"], "most asked by users")
    assert choose_questions(None, [], documents)[0] == ["Ant", "Zebra"]
    assert choose_questions(None, [], []) == ([], "none (no documents)")
    with pytest.raises(InvalidInput, match="DR_QUESTIONS"):
        choose_questions(tmp_path / "missing.txt", [], [])


def test_answers_differ_by_grounding_sources_and_for_the_extractive_generator_text() -> None:
    recorded = {
        "answer": "At 80 degrees. [1]",
        "grounded": True,
        "citations": [{"source": "tea.txt", "section": "Green tea"}],
    }
    reworded = {**recorded, "answer": "Eighty degrees. [1]"}
    assert differences(recorded, reworded, compare_text=False) == []
    assert differences(recorded, reworded, compare_text=True) == ["the answer's text differs"]
    elsewhere = {**recorded, "citations": [{"source": "coffee.txt", "section": "Brewing"}]}
    assert "cites" in differences(recorded, elsewhere, compare_text=False)[0]
    declined = {**recorded, "grounded": False, "citations": []}
    assert len(differences(recorded, declined, compare_text=False)) == 2


def test_dump_kinds_are_told_apart(tmp_path: Path) -> None:
    samples = {
        "custom.dump": b"PGDMP\x01\x0e\x00",
        "copy.db": b"SQLite format 3\x00" + bytes(100),
        "ours.sql": b"-- rag-chatbot SQLite dump of rag-chatbot.db\nBEGIN TRANSACTION;\n",
        "shell.sql": b"PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n",
        "pg.sql": b"--\n-- PostgreSQL database dump\n--\n",
    }
    kinds = {}
    for name, head in samples.items():
        (tmp_path / name).write_bytes(head)
        kinds[name] = file_kind(tmp_path / name)
    assert kinds == {
        "custom.dump": "pg-custom",
        "copy.db": "sqlite-database",
        "ours.sql": "sqlite-sql",
        "shell.sql": "sqlite-sql",
        "pg.sql": "sql",
    }
    (tmp_path / "x.sql.gz").write_bytes(b"\x1f\x8b\x08\x00")
    with pytest.raises(InvalidInput, match="gunzip"):
        file_kind(tmp_path / "x.sql.gz")


def test_checksums_name_a_changed_a_missing_and_an_unlisted_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    for name in ("manifest.json", "database.sql", "config/.env"):
        (tmp_path / name).write_text(name)
    bundle.write_sums(tmp_path)
    assert bundle.verify_sums(tmp_path) == []
    (tmp_path / "database.sql").write_text("changed")
    (tmp_path / "config" / ".env").unlink()
    (tmp_path / "extra").write_text("?")
    assert bundle.verify_sums(tmp_path) == [
        "config/.env is missing",
        "database.sql does not match its checksum",
        "extra is not in SHA256SUMS",
    ]


def test_the_backup_metric_is_written_atomically_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = tmp_path / "backup.sql"
    backup.write_bytes(b"x" * 1234)
    monkeypatch.delenv("METRICS_TEXTFILE_DIR", raising=False)
    assert textfile_main(["backup", "database", str(backup)]) == 0
    monkeypatch.setenv("METRICS_TEXTFILE_DIR", str(tmp_path / "metrics"))
    assert textfile_main(["backup", "full", str(backup)]) == 0
    assert [p.name for p in (tmp_path / "metrics").iterdir()] == ["rag_chatbot_backup.full.prom"]
    text = (tmp_path / "metrics" / "rag_chatbot_backup.full.prom").read_text()
    assert 'rag_chatbot_backup_last_size_bytes{kind="full"} 1234\n' in text
    assert "# TYPE rag_chatbot_backup_last_success_timestamp_seconds gauge" in text
    assert textfile_main(["backup", "weekly", str(backup)]) == 2


class _Qdrant(BaseHTTPRequestHandler):
    """Qdrant's collection snapshot endpoints, as documented; records what it was asked."""

    calls: ClassVar[list[tuple[str, str, str | None]]] = []
    fail_download = False

    def _reply(self, code: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> None:
        self.calls.append((self.command, self.path, self.headers.get("api-key")))

    def do_GET(self) -> None:
        self._record()
        if self.path == "/collections/chunks":
            self._reply(200, json.dumps({"result": {"points_count": 9}}).encode())
        elif self.fail_download:
            self._reply(500, b'{"status": {"error": "disk full"}}')
        else:
            self._reply(200, b"SNAPSHOT-BYTES" * 1000, "application/octet-stream")

    def do_POST(self) -> None:
        self._record()
        self._reply(200, json.dumps({"result": {"name": "chunks-1.snapshot"}}).encode())

    def do_DELETE(self) -> None:
        self._record()
        self._reply(200, b'{"result": true}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def qdrant() -> Iterator[str]:
    _Qdrant.calls = []
    _Qdrant.fail_download = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Qdrant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_qdrant_server_collection_is_snapshotted_downloaded_and_cleaned_up(
    qdrant: str, tmp_path: Path
) -> None:
    entry = snapshot_server_collection(qdrant, "key-1", "chunks", tmp_path / "vectors")

    assert (tmp_path / "vectors" / "chunks.snapshot").read_bytes() == b"SNAPSHOT-BYTES" * 1000
    assert entry["points"] == 9 and entry["snapshot"] == "chunks.snapshot"
    assert [(method, path) for method, path, _ in _Qdrant.calls] == [
        ("GET", "/collections/chunks"),
        ("POST", "/collections/chunks/snapshots?wait=true"),
        ("GET", "/collections/chunks/snapshots/chunks-1.snapshot"),
        ("DELETE", "/collections/chunks/snapshots/chunks-1.snapshot?wait=true"),
    ]
    assert {key for _, _, key in _Qdrant.calls} == {"key-1"}

    _Qdrant.calls, _Qdrant.fail_download = [], True
    with pytest.raises(ProviderUnavailable, match="snapshot of chunks failed"):
        snapshot_server_collection(qdrant, None, "chunks", tmp_path / "again")
    assert list((tmp_path / "again").iterdir()) == []
    assert _Qdrant.calls[-1][0] == "DELETE"  # not left on the server either
