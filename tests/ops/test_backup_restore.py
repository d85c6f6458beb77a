"""Backup and restore round trips on SQLite and PostgreSQL, with the real model and index.

A deployment is filled (the fixture corpus ingested, conversations, feedback, an account),
backed up, and restored into an empty one. The restored deployment must hold byte-identical
rows in every table, as many points as chunks, and give identical answers (text, citations
and scores) to the same questions. A non-empty target is refused and left untouched.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from table_dumps import table_dumps
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.cli.render import answer_json
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from rag_chatbot.errors import InvalidInput
from rag_chatbot.ops.backup import create_backup
from rag_chatbot.ops.restore import restore_backup
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = pytest.mark.integration

QUESTIONS = (
    "When does the fog horn sound?",
    "How hot should green tea water be?",
    "How often should I turn the compost heap?",
    "What is the airspeed of an unladen swallow?",  # not in the documents: abstains
)


def _settings(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
    )


@pytest.fixture
def deployment(
    tmp_path: Path, new_pg_database: Callable[[], str]
) -> Callable[[str, str], Settings]:
    """``deployment(name, "sqlite" | "postgresql")``: settings of a new, empty deployment."""

    def make(name: str, backend: str) -> Settings:
        url = new_pg_database() if backend == "postgresql" else None
        return _settings(tmp_path / name, url)

    return make


@contextmanager
def _opened(settings: Settings, embedder: Embedder) -> Iterator[Container]:
    container = build_container(settings, embedder=embedder)
    try:
        yield container
    finally:
        container.close()


def _fill(settings: Settings, embedder: Embedder, corpus: Path) -> None:
    with _opened(settings, embedder) as container:
        report = container.pipeline.ingest_paths([corpus])
        assert report.added == 3 and not report.failed
        first = container.chat.chat(QUESTIONS[0], owner="reader-token-0123456789")
        container.chat.chat(
            "And how loud is it?", session_id=first.session_id, owner="reader-token-0123456789"
        )
        second = container.chat.chat(QUESTIONS[1], owner="another-token-0123456789")
        container.chats.set_feedback(first.message_id, 1, "clear answer")
        container.chats.set_feedback(second.message_id, -1, None)
        container.users.create("ada", "correct horse battery staple", role="admin")


def _tables(settings: Settings) -> dict[str, str]:
    """Every table's rows as ``dump_table`` writes them (sorted by primary key)."""
    engine = create_db_engine(settings)
    try:
        return table_dumps(engine)
    finally:
        engine.dispose()


def _answers(settings: Settings, embedder: Embedder) -> tuple[list[dict[str, object]], int, int]:
    with _opened(settings, embedder) as container:
        answers = [answer_json(container.answerer.ask(q)) for q in QUESTIONS]
        return answers, container.store.count(), container.repository.counts()["chunks"]


@pytest.mark.parametrize(
    ("source", "target"),
    [("sqlite", "sqlite"), ("postgresql", "postgresql"), ("sqlite", "postgresql")],
)
def test_restore_into_an_empty_deployment_gives_identical_data_and_answers(
    source: str,
    target: str,
    deployment: Callable[[str, str], Settings],
    onnx_embedder: Embedder,
    fixture_corpus: Path,
    tmp_path: Path,
) -> None:
    original = deployment("original", source)
    _fill(original, onnx_embedder, fixture_corpus)
    archive = tmp_path / "backups" / "rag.tar.gz"

    summary = create_backup(original, archive)

    assert summary["tables"]["documents"] == 3
    assert summary["tables"]["messages"] == 6  # three questions, three answers
    assert summary["tables"]["feedback"] == 2
    assert summary["tables"]["users"] == 1
    restored = deployment("restored", target)
    report = restore_backup(restored, archive, embedder=onnx_embedder)
    assert report["warnings"] == []
    assert report["documents"] == 3

    before, after = _tables(original), _tables(restored)
    assert set(after) == set(before)
    for name in before:
        assert after[name] == before[name], f"table {name} differs after restore"
    answers_before, points_before, chunks = _answers(original, onnx_embedder)
    answers_after, points_after, chunks_after = _answers(restored, onnx_embedder)
    assert points_before == points_after == chunks == chunks_after == report["chunks_embedded"]
    assert answers_after == answers_before
    assert [a["grounded"] for a in answers_after] == [True, True, True, False]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_deployment_holding_data_is_refused_and_kept(
    backend: str,
    deployment: Callable[[str, str], Settings],
    onnx_embedder: Embedder,
    fixture_corpus: Path,
    tmp_path: Path,
) -> None:
    original = deployment("original", backend)
    _fill(original, onnx_embedder, fixture_corpus)
    archive = tmp_path / "rag.tar.gz"
    create_backup(original, archive)
    busy = deployment("busy", backend)
    with _opened(busy, onnx_embedder) as container:
        container.pipeline.ingest_paths([fixture_corpus / "tea.txt"])
        container.chat.chat("How hot should green tea water be?", owner="someone-0123456789")
    held = _tables(busy)

    with pytest.raises(InvalidInput, match=r"refusing to restore .*row\(s\) in documents"):
        restore_backup(busy, archive, embedder=onnx_embedder)

    assert _tables(busy) == held
    _, points, chunks = _answers(busy, onnx_embedder)
    assert points == chunks > 0

    report = restore_backup(busy, archive, force=True, embedder=onnx_embedder)

    assert _tables(busy) == _tables(original)
    saved = Path(report["pre_restore_backup"])
    with tarfile.open(saved) as tar:
        assert "tables/documents.jsonl" in tar.getnames()
    # The data that --force replaced comes back from the backup it made first.
    again = deployment("again", backend)
    restore_backup(again, saved, embedder=onnx_embedder)
    assert _tables(again) == held


def test_uploads_travel_with_the_backup(
    deployment: Callable[[str, str], Settings], onnx_embedder: Embedder, tmp_path: Path
) -> None:
    original = deployment("original", "sqlite")
    with _opened(original, onnx_embedder) as container:
        row = container.documents.accept_upload(
            b"# Bees\n\nBees dance to tell the hive where flowers are.\n", "bees.md"
        )
        container.documents.process(row.source)
    archive = tmp_path / "rag.tar.gz"
    assert create_backup(original, archive)["uploads"] == 1

    restored = deployment("restored", "sqlite")
    assert restore_backup(restored, archive, embedder=onnx_embedder)["uploads"] == 1

    upload = restored.data_dir / "uploads" / "bees.md"
    assert upload.read_bytes() == (original.data_dir / "uploads" / "bees.md").read_bytes()
    with _opened(restored, onnx_embedder) as container:
        answer = container.answerer.ask("How do bees tell the hive where flowers are?")
    assert answer.grounded and answer.citations[0].source == "bees.md"


@pytest.mark.parametrize("target_state", ["fresh", "already migrated to head"])
def test_an_archive_of_the_first_schema_restores_into_the_newest(
    target_state: str,
    deployment: Callable[[str, str], Settings],
    onnx_embedder: Embedder,
    tmp_path: Path,
) -> None:
    old = deployment("old", "sqlite")
    url = old.resolved_database_url
    engine = create_db_engine(old)
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")  # the schema of the first release
        connection.commit()
    chats = ChatRepository(session_factory(engine))
    session = chats.create_session("old-client-0123456789", "from 0001")
    chats.add_message(session.id, "user", "Kept across schema versions?")
    engine.dispose()
    archive = tmp_path / "old.tar.gz"
    assert create_backup(old, archive)["revision"] == "0001"

    new = deployment("new", "sqlite")
    if target_state != "fresh":
        upgrade_to_head(new.resolved_database_url)  # a service started once, empty
    restore_backup(new, archive, embedder=onnx_embedder)

    assert current_revision(new.resolved_database_url) == head_revision()
    restored = _tables(new)
    assert restored["messages"] == _tables(old)["messages"]
    assert "Kept across schema versions?" in restored["messages"]
    assert {"users", "index_state"} <= set(restored)  # created by the later migration
    assert url != new.resolved_database_url
