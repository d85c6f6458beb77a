"""Rebuild the vector index from the chunk rows: how a restore gets its vectors back.

A chunk row keeps everything its point was made from (document title and source, section
path, anchor, position, text), so each document's chunks are embedded again exactly as
ingestion embedded them: one ``embed`` call per document with its chunks in position order,
so the model sees the same batches and returns the same vectors. The one lossy step: the
section path is stored joined by " > ", so a heading that itself contains " > " comes back
split in two (its citation reads the same; its embedded heading line may differ slightly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from rag_chatbot.db.engine import session_factory
from rag_chatbot.db.models import ChunkRow, DocumentRow
from rag_chatbot.domain import SECTION_SEPARATOR, Chunk, IndexedChunk
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.lexical import LexicalEncoder

Progress = Callable[[int, int], None]  # (documents done, documents in all)


@dataclass(frozen=True)
class ReembedReport:
    documents: int
    chunks: int
    seconds: float


def reembed_from_rows(
    engine: Engine,
    store: VectorStore,
    embedder: Embedder,
    lexical: LexicalEncoder,
    progress: Progress | None = None,
) -> ReembedReport:
    """Embed every chunk row of every document into ``store`` (points keep the rows' ids)."""
    started = time.perf_counter()
    sessions = session_factory(engine)
    with sessions() as session:
        documents = session.execute(
            select(DocumentRow.id, DocumentRow.source, DocumentRow.title).order_by(
                DocumentRow.source
            )
        ).all()
    chunks_done = 0
    for done, (document_id, source, title) in enumerate(documents, start=1):
        with sessions() as session:
            rows = session.scalars(
                select(ChunkRow)
                .where(ChunkRow.document_id == document_id)
                .order_by(ChunkRow.position)
            ).all()
        chunks = [
            Chunk(
                id=row.id,
                document_id=document_id,
                source=source,
                title=title,
                section_path=tuple(row.section.split(SECTION_SEPARATOR)) if row.section else (),
                anchor=row.anchor,
                position=row.position,
                text=row.text,
            )
            for row in rows
        ]
        if chunks:
            vectors = embedder.embed([c.embedding_text for c in chunks])
            store.upsert(
                [
                    IndexedChunk(c, tuple(v.tolist()), lexical.encode_document(c.embedding_text))
                    for c, v in zip(chunks, vectors, strict=True)
                ]
            )
            chunks_done += len(chunks)
        if progress:
            progress(done, len(documents))
    store.optimize()
    return ReembedReport(len(documents), chunks_done, time.perf_counter() - started)
