"""Candidate scores for hybrid retrieval, and the chunks of the ids a ranking keeps.

Score completion is a retrieval rule, so it lives here and asks the store for nothing but
``score_dense`` / ``score_sparse`` restricted to ids. Where the index is in another process
(``serve --workers N`` over the embedded index), the container has that process run
``complete_scores`` itself: one round trip instead of four (see ``CandidateScorer``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, cast

from rag_chatbot.domain import ScoredChunk, SparseVector
from rag_chatbot.providers.vector_stores.base import VectorStore

Scores = list[tuple[str, float]]


class CandidateScorer(Protocol):
    """Gives a query's dense and lexical ``(chunk id, score)`` lists, as ``complete_scores``.

    The retriever's default is ``complete_scores`` on its own store; a store served by another
    process gets the same function run by that process, in one round trip instead of one per
    list (docs/benchmarks.md), with identical results.
    """

    def __call__(
        self, vector: Sequence[float], sparse: SparseVector, limit: int
    ) -> tuple[Scores, Scores]: ...


def complete_scores(
    store: VectorStore, vector: Sequence[float], sparse: SparseVector, limit: int
) -> tuple[Scores, Scores]:
    """Dense and lexical ``(chunk id, score)`` lists over the union of their top ``limit``.

    Each retriever's own top ``limit``, then each scores the other's candidates too, so that no
    passage is later fused as if one retriever had given it zero (see ``retrieval.fusion``).
    A candidate sharing no term with the query stays out of the lexical list.
    """
    dense = store.score_dense(vector, limit)
    lexical = store.score_sparse(sparse, limit)
    union = {cid for cid, _ in dense} | {cid for cid, _ in lexical}
    dense += store.score_dense(vector, limit, within=union - {cid for cid, _ in dense})
    lexical += store.score_sparse(sparse, limit, within=union - {cid for cid, _ in lexical})
    return dense, lexical


def served_scorer(run: Callable[..., object]) -> CandidateScorer:
    """``complete_scores`` run by the process that serves the index.

    ``run(name, *args)`` calls a function the server was given by its name, on its store
    (``SharedVectorStore.run``; the server must be given ``complete_scores``).
    """

    def scores(vector: Sequence[float], sparse: SparseVector, limit: int) -> tuple[Scores, Scores]:
        found = run(complete_scores.__name__, list(vector), sparse, limit)
        return cast(tuple[Scores, Scores], found)

    return scores


def read_hits(store: VectorStore, ranked: Sequence[tuple[str, float]]) -> list[ScoredChunk]:
    """``ranked`` as ``ScoredChunk``s, in its order, read in one ``chunks`` call.

    An id the store no longer holds (deleted since it was scored) is left out.
    """
    chunks = store.chunks([cid for cid, _ in ranked])
    return [ScoredChunk(chunks[cid], score) for cid, score in ranked if cid in chunks]
