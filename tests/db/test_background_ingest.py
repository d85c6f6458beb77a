"""A background ingest ends ``completed`` or ``failed`` whatever goes wrong (SQLite, PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder

HARBOUR = b"# Harbour rules\n\n## Mooring\n\nBoats moor stern-to at the quay of Port Ellwyn.\n"


@pytest.fixture
def service_container(
    database_url: str, tmp_path: Path, onnx_embedder: Embedder
) -> Iterator[Container]:
    settings = Settings(  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=tmp_path / "data",
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
    )
    container = build_container(settings, embedder=onnx_embedder)
    yield container
    container.close()


def test_an_error_nobody_expected_marks_the_document_failed_with_a_short_reason(
    service_container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    documents = service_container.documents
    accepted = documents.accept_upload(HARBOUR, "harbour.md")
    assert accepted.status == "processing"
    assert documents.watch.held() == {"harbour.md"}
    # The commit that makes the passages visible also bumps the index version; with its table
    # gone, the database driver raises an error of its own, not one of the package's.
    with service_container.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE index_state")

    with caplog.at_level(logging.ERROR, logger="rag_chatbot.ingestion.documents"):
        documents.process("harbour.md")  # what the API runs in the background; it must not raise

    row = service_container.repository.get_by_source("harbour.md")
    assert row is not None and row.status == "failed"
    assert row.error in {
        "internal error (OperationalError); see the server log",  # SQLite
        "internal error (ProgrammingError); see the server log",  # PostgreSQL
    }
    logged = [r for r in caplog.records if r.getMessage() == "document failed unexpectedly"]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log
    assert documents.watch.held() == set()


def test_an_ordinary_failure_keeps_its_own_reason(service_container: Container) -> None:
    documents = service_container.documents
    documents.accept_upload(b"%PDF-1.4\nnot really a pdf", "broken.pdf")
    documents.process("broken.pdf")
    row = service_container.repository.get_by_source("broken.pdf")
    assert row is not None and row.status == "failed"
    assert row.error and "internal error" not in row.error
    assert documents.watch.held() == set()
