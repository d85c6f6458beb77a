"""DocumentRepository on SQLite and PostgreSQL: the visibility switch and the API's reads."""

from __future__ import annotations

import pytest

from rag_chatbot.db.repository import DocumentRecord, DocumentRepository
from rag_chatbot.domain import Chunk
from rag_chatbot.errors import InvalidInput
from rag_chatbot.ingestion.chunking import chunk_id_for, document_id_for


def _record(source: str, content_hash: str = "h1") -> DocumentRecord:
    return DocumentRecord(
        id=document_id_for(source),
        source=source,
        origin="docs",
        title=source.title(),
        media_type="text/markdown",
        content_hash=content_hash,
        fingerprint="fp",
        size_bytes=42,
    )


def _chunks(record: DocumentRecord, n: int) -> list[Chunk]:
    return [
        Chunk(
            id=chunk_id_for(record.id, record.content_hash, i),
            document_id=record.id,
            source=record.source,
            title=record.title,
            section_path=("Guide", f"Part {i}"),
            anchor=f"part-{i}",
            position=i,
            text=f"text {i} of {record.content_hash}",
        )
        for i in range(n)
    ]


def test_replace_swaps_chunks_in_one_step(documents: DocumentRepository) -> None:
    v1 = _record("a.md", "h1")
    old = _chunks(v1, 3)
    assert documents.replace(v1, old) == []
    assert documents.committed(c.id for c in old) == {c.id for c in old}

    v2 = _record("a.md", "h2")
    new = _chunks(v2, 2)
    replaced = documents.replace(v2, new)
    assert sorted(replaced) == sorted(c.id for c in old)
    assert documents.committed([c.id for c in old + new]) == {c.id for c in new}
    row = documents.get_by_source("a.md")
    assert row is not None
    assert (row.status, row.chunk_count, row.content_hash) == ("completed", 2, "h2")
    assert documents.all_chunk_ids() == {c.id for c in new}


def test_owners_names_each_visible_chunks_document_and_its_content(
    documents: DocumentRepository,
) -> None:
    page, copy, other = _record("page.md", "same"), _record("copy.md", "same"), _record("o.md", "x")
    chunks = {record.source: _chunks(record, 2) for record in (page, copy, other)}
    for record in (page, copy, other):
        documents.replace(record, chunks[record.source])
    asked = [c.id for cs in chunks.values() for c in cs] + ["not-a-chunk"]

    owners = documents.owners(asked)

    assert owners == {
        c.id: (record.id, record.content_hash)
        for record in (page, copy, other)
        for c in chunks[record.source]
    }
    documents.remove("copy.md")
    assert {c.id for c in chunks["copy.md"]}.isdisjoint(documents.owners(asked))


def test_remove_and_committed_in_batches(documents: DocumentRepository) -> None:
    record = _record("big.md")
    chunks = _chunks(record, 1000)  # more ids than one IN (...) batch
    documents.replace(record, chunks)
    asked = [c.id for c in chunks] + ["not-a-chunk"]
    assert documents.committed(asked) == {c.id for c in chunks}
    assert sorted(documents.remove("big.md")) == sorted(c.id for c in chunks)
    assert documents.committed(asked) == set()
    assert documents.remove("big.md") == []
    assert documents.counts() == {"documents": 0, "chunks": 0}


def test_forget_documents_of_lost_chunks(documents: DocumentRepository) -> None:
    kept, lost = _record("kept.md"), _record("lost.md")
    documents.replace(kept, _chunks(kept, 2))
    lost_chunks = _chunks(lost, 2)
    documents.replace(lost, lost_chunks)
    assert documents.forget_documents_of([lost_chunks[0].id]) == ["lost.md"]
    assert documents.sources_from("docs") == {"kept.md"}


def test_processing_then_completed_or_failed(documents: DocumentRepository) -> None:
    upload = _record("upload.pdf")
    row = documents.mark_processing(upload.id, upload.source, title="Upload", size_bytes=7)
    assert (row.status, row.chunk_count, row.title) == ("processing", 0, "Upload")
    assert documents.get(upload.id) is not None
    documents.replace(upload, _chunks(upload, 2))
    got = documents.get(upload.id)
    assert got is not None and (got.status, got.chunk_count) == ("completed", 2)

    # A failed re-index records why and keeps the version that was visible.
    documents.mark_processing(upload.id, upload.source)
    assert documents.mark_failed(upload.source, "boom " * 2000) is True
    failed = documents.get(upload.id)
    assert failed is not None and failed.status == "failed"
    assert (
        failed.error is not None and failed.error.startswith("boom") and len(failed.error) <= 4000
    )
    assert failed.chunk_count == 2 and len(documents.all_chunk_ids()) == 2
    assert documents.mark_failed("never-seen.md", "x") is False

    documents.replace(upload, _chunks(upload, 1))
    healed = documents.get(upload.id)
    assert healed is not None and (healed.status, healed.error) == ("completed", None)


def test_list_and_count_documents_by_status(documents: DocumentRepository) -> None:
    done = [_record(f"done-{i}.md") for i in range(3)]
    for record in done:
        documents.replace(record, _chunks(record, 1))
    documents.mark_processing(document_id_for("busy.md"), "busy.md")
    documents.mark_processing(document_id_for("bad.md"), "bad.md")
    documents.mark_failed("bad.md", "unreadable")

    everything = documents.list_documents()
    assert len(everything) == documents.count_documents() == 5
    assert everything[0].source == "bad.md"  # newest first
    completed = documents.list_documents(status="completed")
    assert [d.source for d in completed] == ["done-2.md", "done-1.md", "done-0.md"]
    assert documents.count_documents("completed") == 3
    assert [d.source for d in documents.list_documents("completed", limit=1, offset=1)] == [
        "done-1.md"
    ]
    assert [d.source for d in documents.list_documents(status="failed")] == ["bad.md"]
    assert documents.get("no-such-id") is None
    with pytest.raises(InvalidInput):
        documents.list_documents(status="done")
