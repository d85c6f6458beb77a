"""Candidate scores for hybrid retrieval, each list completed over both lists' candidates.

One function, so the rule lives in one place and a store that answers for another process
(``SharedVectorStore``) can run it where the index is: one round trip instead of four.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag_chatbot.domain import SparseVector

if TYPE_CHECKING:
    from rag_chatbot.providers.vector_stores.base import VectorStore

Scores = list[tuple[str, float]]


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
