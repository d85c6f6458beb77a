"""Retrieval that only the benchmarks use.

The retriever reads only the chunks it keeps; the scripts here compare rules over whole hits,
so they read every candidate's chunk (``search_dense`` / ``search_sparse``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rag_chatbot.domain import ScoredChunk, SparseVector
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.scoring import read_hits


def search_dense(
    store: VectorStore, vector: Sequence[float], limit: int, within: Collection[str] | None = None
) -> list[ScoredChunk]:
    """The ``limit`` nearest chunks (of ``within`` if given), best first, with their chunks."""
    return read_hits(store, store.score_dense(vector, limit, within))


def search_sparse(
    store: VectorStore, vector: SparseVector, limit: int, within: Collection[str] | None = None
) -> list[ScoredChunk]:
    """The ``limit`` best lexical matches (of ``within`` if given), with their chunks."""
    return read_hits(store, store.score_sparse(vector, limit, within))
