"""The hybrid retriever over a real store and model, told what is committed by a catalog.

The retriever knows nothing of the database: what it is told by ``ChunkCatalog`` decides what
is visible and which copy of a document is kept. Here the catalog is a dict; the repository
that answers in the service is tested against real databases in tests/db.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from rag_chatbot.domain import Chunk, IndexedChunk
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore
from rag_chatbot.retrieval.hybrid import HybridRetriever
from rag_chatbot.retrieval.lexical import LexicalEncoder

LAMP = "The lighthouse lamp is cleaned every morning by the keeper before sunrise."
PASSAGES = {  # document id: (content hash, text)
    "lamp": ("same", LAMP),
    "lamp-copy": ("same", LAMP),  # the same file under another name
    "tea": ("tea", "Green tea steeps for two minutes in water just below boiling."),
    "compost": ("compost", "Turn the compost heap every week so that air reaches its centre."),
}


class Catalog:
    """Committed chunks and their documents' ids and hashes, as ``DocumentRepository`` answers."""

    def __init__(self, owners: dict[str, tuple[str, str]]) -> None:
        self._owners = owners

    def committed(self, chunk_ids: Iterable[str]) -> set[str]:
        return {cid for cid in chunk_ids if cid in self._owners}

    def owners(self, chunk_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        return {cid: self._owners[cid] for cid in chunk_ids if cid in self._owners}


def chunk_id(document: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, document))


@pytest.fixture
def store(tmp_path: Path, onnx_embedder: Embedder) -> Iterator[QdrantEdgeStore]:
    store = QdrantEdgeStore(tmp_path / "shard", onnx_embedder.dimension)
    lexical = LexicalEncoder()
    vectors = onnx_embedder.embed([text for _, text in PASSAGES.values()])
    store.upsert(
        [
            IndexedChunk(
                Chunk(chunk_id(doc), doc, f"{doc}.md", doc, (), "", 0, text),
                tuple(float(x) for x in vector),
                lexical.encode_document(text),
            )
            for (doc, (_, text)), vector in zip(PASSAGES.items(), vectors, strict=True)
        ]
    )
    yield store
    store.close()


def test_only_committed_chunks_and_the_first_copy_of_a_document_are_returned(
    store: QdrantEdgeStore, onnx_embedder: Embedder
) -> None:
    committed = {doc: digest for doc, (digest, _) in PASSAGES.items() if doc != "compost"}
    catalog = Catalog({chunk_id(doc): (doc, digest) for doc, digest in committed.items()})
    retriever = HybridRetriever(store, onnx_embedder, LexicalEncoder(), catalog)

    lamp = retriever.retrieve("How often is the lighthouse lamp cleaned?", 3)
    compost = retriever.retrieve("How often should the compost heap be turned?", 3)

    # Both copies score the same; the one ranked first (ties go by chunk id) is kept.
    first = min(("lamp", "lamp-copy"), key=chunk_id)
    assert [hit.chunk.document_id for hit in lamp.hits] == [first, "tea"]
    assert "compost" not in {hit.chunk.document_id for hit in compost.hits}
    assert compost.lexical_best == 0.0  # its words are only in the passage not committed
