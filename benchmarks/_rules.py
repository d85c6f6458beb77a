"""Retrieval rules that only the benchmarks use: what the retriever's rule was measured against.

The retriever fuses ``(chunk id, score)`` lists (``rag_chatbot.retrieval.fusion.fuse_id_scores``)
and reads only the chunks it keeps; the scripts here compare rules over whole hits, so they
read every candidate's chunk (``search_dense`` / ``search_sparse``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rag_chatbot.domain import ScoredChunk, SparseVector
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.fusion import fuse_id_scores
from rag_chatbot.retrieval.scoring import read_hits


@dataclass(frozen=True)
class Ranked:
    """One retriever's ranking and the weight its normalized scores get in the fusion."""

    hits: Sequence[ScoredChunk]
    weight: float


def fuse_scores(rankings: Sequence[Ranked]) -> list[ScoredChunk]:
    """``fuse_id_scores`` over whole hits (the chunk of each fused id is kept)."""
    chunks = {hit.chunk.id: hit.chunk for ranked in rankings for hit in ranked.hits}
    fused = fuse_id_scores(
        [([(hit.chunk.id, hit.score) for hit in ranked.hits], ranked.weight) for ranked in rankings]
    )
    return [ScoredChunk(chunks[cid], total) for cid, total in fused]


def fuse_reciprocal_rank(rankings: Sequence[Ranked], k: int = 60) -> list[ScoredChunk]:
    """Weighted reciprocal-rank fusion: sum of ``weight / (k + rank)``; kept for comparison."""
    totals: dict[str, float] = {}
    chunks: dict[str, ScoredChunk] = {}
    for ranked in rankings:
        for rank, hit in enumerate(ranked.hits, start=1):
            chunks.setdefault(hit.chunk.id, hit)
            totals[hit.chunk.id] = totals.get(hit.chunk.id, 0.0) + ranked.weight / (k + rank)
    order = sorted(totals, key=lambda cid: (-totals[cid], cid))
    return [ScoredChunk(chunks[cid].chunk, totals[cid]) for cid in order]


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
