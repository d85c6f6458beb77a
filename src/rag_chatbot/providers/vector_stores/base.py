"""The ``VectorStore`` protocol: chunks with a dense and a sparse vector, searchable by either."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from rag_chatbot.domain import Chunk, IndexedChunk, ScoredChunk, SparseVector


class VectorStore(Protocol):
    """Keeps ``IndexedChunk``s (the chunk as payload, a dense and a sparse vector) by chunk id.

    Contract:
    - ``upsert`` stores or replaces points by ``chunk.id`` (ids are UUID strings); idempotent.
    - ``delete`` removes the given ids; unknown ids are ignored.
    - ``search_dense`` ranks by cosine similarity; ``search_sparse`` by the dot product of
      sparse vectors with IDF weighting applied by the store (Qdrant's ``Modifier.IDF``), so
      term statistics live in the index, not in each process. Both return at most ``limit``
      ``ScoredChunk``s, best first, each carrying the whole chunk rebuilt from the payload.
      With ``within`` they score only those ids (a point with no shared term is not returned by
      ``search_sparse``): the hybrid retriever uses it to complete each ranking's scores.
    - ``score_dense`` / ``score_sparse`` rank exactly like ``search_dense`` / ``search_sparse``
      but return ``(chunk id, score)`` pairs without the chunks, and ``chunks(ids)`` gives the
      chunks of the ids that exist, by id: reading payloads is most of a search's cost, so a
      caller that ranks many candidates and keeps a few asks for those few only.
    - ``score_hybrid(vector, sparse, limit)`` is ``scoring.complete_scores`` on this store: both
      rankings' top ``limit``, each completed over the other's candidates, in one call.
    - ``ids()`` lists every stored chunk id (used to collect points no document owns).
    - ``count()`` is the number of points; ``optimize()`` builds search indexes (HNSW) after bulk
      writes; ``close()`` persists everything and releases files. Data survives close + reopen.
    Vendor errors are raised as ``ProviderError``.
    """

    def upsert(self, points: Sequence[IndexedChunk]) -> None: ...

    def delete(self, chunk_ids: Sequence[str]) -> None: ...

    def search_dense(
        self, vector: Sequence[float], limit: int, within: Collection[str] | None = None
    ) -> list[ScoredChunk]: ...

    def search_sparse(
        self, vector: SparseVector, limit: int, within: Collection[str] | None = None
    ) -> list[ScoredChunk]: ...

    def score_dense(
        self, vector: Sequence[float], limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]: ...

    def score_sparse(
        self, vector: SparseVector, limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]: ...

    def score_hybrid(
        self, vector: Sequence[float], sparse: SparseVector, limit: int
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]: ...

    def chunks(self, chunk_ids: Collection[str]) -> dict[str, Chunk]: ...

    def ids(self) -> set[str]: ...

    def count(self) -> int: ...

    def optimize(self) -> None: ...

    def close(self) -> None: ...
