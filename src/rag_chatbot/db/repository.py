"""DocumentRepository: documents and chunk rows, each change in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.migrate import upgrade_to_head
from rag_chatbot.db.models import ChunkRow, DocumentRow, IndexStateRow, utcnow
from rag_chatbot.domain import SECTION_SEPARATOR, Chunk
from rag_chatbot.errors import InvalidInput

# SQLite allows 32k bound parameters, PostgreSQL 65k; stay far below both.
_IN_CLAUSE_BATCH = 900
# A document's life: processing -> completed (``replace``) or failed (``mark_failed``).
STATUSES = frozenset({"processing", "completed", "failed"})
_ERROR_MAX_CHARS = 4000
# Chunk rows a bulk INSERT carries: memory stays flat whatever the document's size.
ROWS_PER_INSERT = 1000


_COMMITTED = select(ChunkRow.id).where(ChunkRow.id.in_(bindparam("ids", expanding=True)))
_OWNERS = (
    select(ChunkRow.id, ChunkRow.document_id, DocumentRow.content_hash)
    .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
    .where(ChunkRow.id.in_(bindparam("ids", expanding=True)))
)


@dataclass(frozen=True)
class DocumentRecord:
    """What the pipeline writes for one document (its chunks come separately)."""

    id: str
    source: str
    origin: str
    title: str
    media_type: str
    content_hash: str
    fingerprint: str
    size_bytes: int


class DocumentRepository:
    """Reads and writes ``documents`` and ``chunks``.

    ``replace`` swaps a document's chunk rows in one transaction: this commit is the moment the
    new version becomes visible and the old one disappears.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create_schema(self) -> None:
        """Bring the schema to the newest migration: ``migrate.upgrade_to_head`` on our engine."""
        upgrade_to_head(self._sessions.kw["bind"])

    def get(self, document_id: str) -> DocumentRow | None:
        with self._sessions() as session:
            return session.get(DocumentRow, document_id)

    def get_by_source(self, source: str) -> DocumentRow | None:
        with self._sessions() as session:
            return session.scalar(select(DocumentRow).where(DocumentRow.source == source))

    def sources_from(self, origin: str) -> set[str]:
        """Sources of the documents ingested from the directory ``origin``."""
        with self._sessions() as session:
            query = select(DocumentRow.source).where(DocumentRow.origin == origin)
            return set(session.scalars(query))

    def list_documents(
        self, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[DocumentRow]:
        """Documents, newest first, optionally only those in ``status`` (else ``InvalidInput``)."""
        query = (
            select(DocumentRow)
            .where(*_status_filter(status))
            .order_by(DocumentRow.created_at.desc(), DocumentRow.source)
        )
        with self._sessions() as session:
            return list(session.scalars(query.limit(limit).offset(offset)))

    def count_documents(self, status: str | None = None) -> int:
        """How many documents ``list_documents(status)`` would return without a limit."""
        query = select(func.count()).select_from(DocumentRow).where(*_status_filter(status))
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def mark_processing(
        self,
        record_id: str,
        source: str,
        *,
        origin: str = "",
        title: str = "",
        media_type: str = "",
        size_bytes: int = 0,
    ) -> DocumentRow:
        """Show ``source`` as being indexed (an accepted upload); return its row.

        A new document gets a row under ``record_id`` with no chunks; a known one (matched by
        ``source``) keeps its id and its chunks, which stay searchable until ``replace``
        swaps them. ``replace`` or ``mark_failed`` ends the processing.
        """
        with self._sessions.begin() as session:
            row = session.scalar(select(DocumentRow).where(DocumentRow.source == source))
            if row is None:
                row = DocumentRow(
                    id=record_id,
                    source=source,
                    origin=origin,
                    title=title,
                    media_type=media_type,
                    content_hash="",
                    fingerprint="",
                    chunk_count=0,
                    size_bytes=size_bytes,
                    created_at=utcnow(),
                )
                session.add(row)
            row.status = "processing"
            row.error = None
            row.updated_at = utcnow()
        return row

    def mark_failed(self, source: str, error: str) -> bool:
        """Record that indexing ``source`` failed and why; ``False`` if there is no such row.

        Chunks of an earlier version stay searchable: a failed update does not erase it.
        """
        with self._sessions.begin() as session:
            row = session.scalar(select(DocumentRow).where(DocumentRow.source == source))
            if row is None:
                return False
            row.status = "failed"
            row.error = error[:_ERROR_MAX_CHARS]
            row.updated_at = utcnow()
            return True

    def replace(self, record: DocumentRecord, chunks: Sequence[Chunk]) -> list[str]:
        """Make ``chunks`` the document's only chunks; return the ids of the chunks replaced."""
        with self._sessions.begin() as session:
            row = session.get(DocumentRow, record.id)
            old_ids = list(
                session.scalars(select(ChunkRow.id).where(ChunkRow.document_id == record.id))
            )
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == record.id))
            if row is None:
                row = DocumentRow(id=record.id, source=record.source)
                session.add(row)
            row.origin = record.origin
            row.title = record.title
            row.media_type = record.media_type
            row.content_hash = record.content_hash
            row.fingerprint = record.fingerprint
            row.size_bytes = record.size_bytes
            row.status = "completed"
            row.chunk_count = len(chunks)
            row.error = None
            row.updated_at = utcnow()
            session.flush()
            # Bulk statements a slice at a time: no ORM object per row is kept until commit
            # (a 150 MB text file is 176,000 rows).
            for start in range(0, len(chunks), ROWS_PER_INSERT):
                step = chunks[start : start + ROWS_PER_INSERT]
                session.execute(insert(ChunkRow), [_chunk_values(c) for c in step])
            _bump_index_version(session)
        new_ids = {c.id for c in chunks}
        return [i for i in old_ids if i not in new_ids]

    def remove(self, source: str) -> list[str]:
        """Delete a document and its chunk rows; return the removed chunk ids."""
        with self._sessions.begin() as session:
            row = session.scalar(select(DocumentRow).where(DocumentRow.source == source))
            if row is None:
                return []
            ids = list(session.scalars(select(ChunkRow.id).where(ChunkRow.document_id == row.id)))
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == row.id))
            session.delete(row)
            _bump_index_version(session)
            return ids

    def committed(self, chunk_ids: Iterable[str]) -> set[str]:
        """The subset of ``chunk_ids`` whose rows are committed (i.e. visible).

        Every question asks this of ~170 candidates, so it is one cached Core statement on a
        plain connection, not an ORM session, which costs more than the query itself.
        """
        found: set[str] = set()
        for batch in self._batches(chunk_ids, _COMMITTED):
            found.update(chunk_id for (chunk_id,) in batch)
        return found

    def owners(self, chunk_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Each committed chunk of ``chunk_ids`` -> its document's id and content hash.

        A join, and more columns per row: about twice what ``committed`` costs per id, so
        ask it for the few chunks that need it (0.5 ms for ~170 ids, 0.1 ms for 10).
        """
        return {
            chunk_id: (document_id, digest)
            for batch in self._batches(chunk_ids, _OWNERS)
            for chunk_id, document_id, digest in batch
        }

    def _batches(self, chunk_ids: Iterable[str], statement: Executable) -> Iterator[Any]:
        """``statement``'s rows for ``chunk_ids``, an ``IN`` list of at most 900 at a time."""
        ids = list(dict.fromkeys(chunk_ids))
        with self._sessions.kw["bind"].connect() as connection:
            for start in range(0, len(ids), _IN_CLAUSE_BATCH):
                yield connection.execute(statement, {"ids": ids[start : start + _IN_CLAUSE_BATCH]})

    def forget_documents_of(self, chunk_ids: Iterable[str]) -> list[str]:
        """Drop the documents owning ``chunk_ids`` (their vectors were lost); return sources.

        The next ingest of their files indexes them again from scratch.
        """
        ids = list(chunk_ids)
        sources: list[str] = []
        with self._sessions.begin() as session:
            for start in range(0, len(ids), _IN_CLAUSE_BATCH):
                batch = ids[start : start + _IN_CLAUSE_BATCH]
                doc_ids = set(
                    session.scalars(select(ChunkRow.document_id).where(ChunkRow.id.in_(batch)))
                )
                for doc in session.scalars(select(DocumentRow).where(DocumentRow.id.in_(doc_ids))):
                    sources.append(doc.source)
                    session.execute(delete(ChunkRow).where(ChunkRow.document_id == doc.id))
                    session.delete(doc)
            _bump_index_version(session)
        return sources

    def all_chunk_ids(self) -> set[str]:
        with self._sessions() as session:
            return set(session.scalars(select(ChunkRow.id)))

    def chunks_of(self, document_id: str) -> list[ChunkRow]:
        """The document's chunk rows in reading order (what the web reader renders)."""
        query = (
            select(ChunkRow).where(ChunkRow.document_id == document_id).order_by(ChunkRow.position)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def outlines(self, document_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """Each document's ``(section, anchor)`` pairs in reading order, each pair once."""
        ids = list(dict.fromkeys(document_ids))
        found: dict[str, list[tuple[str, str]]] = {i: [] for i in ids}
        with self._sessions() as session:
            for start in range(0, len(ids), _IN_CLAUSE_BATCH):
                query = (
                    select(ChunkRow.document_id, ChunkRow.section, ChunkRow.anchor)
                    .where(ChunkRow.document_id.in_(ids[start : start + _IN_CLAUSE_BATCH]))
                    .order_by(ChunkRow.document_id, ChunkRow.position)
                )
                for document_id, section, anchor in session.execute(query):
                    pairs = found[document_id]
                    if not pairs or pairs[-1] != (section, anchor):
                        pairs.append((section, anchor))
        return found

    def index_version(self) -> str:
        """A number that goes up with every change to what is indexed (see ``IndexStateRow``)."""
        # A plain connection, not an ORM session: every question reads this.
        with self._sessions.kw["bind"].connect() as connection:
            version = connection.scalar(select(IndexStateRow.version).where(IndexStateRow.id == 1))
        return str(version or 0)

    def counts(self) -> dict[str, int]:
        with self._sessions() as session:
            docs = session.query(DocumentRow).count()
            chunks = session.query(ChunkRow).count()
        return {"documents": docs, "chunks": chunks}


def _bump_index_version(session: Session) -> None:
    """Raise the index version inside the caller's transaction (the row is made if missing)."""
    bumped = session.execute(
        update(IndexStateRow).where(IndexStateRow.id == 1).values(version=IndexStateRow.version + 1)
    )
    if not getattr(bumped, "rowcount", 0):
        session.add(IndexStateRow(id=1, version=1))


def _status_filter(status: str | None) -> list[ColumnElement[bool]]:
    if status is None:
        return []
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {sorted(STATUSES)}, not {status!r}")
    return [DocumentRow.status == status]


def _chunk_values(chunk: Chunk) -> dict[str, object]:
    return {
        "id": chunk.id,
        "document_id": chunk.document_id,
        "position": chunk.position,
        "section": SECTION_SEPARATOR.join(chunk.section_path),
        "anchor": chunk.anchor,
        "text": chunk.text,
    }
