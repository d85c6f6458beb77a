"""The ``VectorStore`` protocol: chunks with a dense and a sparse vector, scored by either."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from rag_chatbot.domain import Chunk, IndexedChunk, SparseVector


class VectorStore(Protocol):
    """Keeps ``IndexedChunk``s (the chunk as payload, a dense and a sparse vector) by chunk id.

    Only what needs the engine is here; rules built from these calls (score completion,
    reading the hits of a ranking) are in ``retrieval.scoring``.

    Contract:
    - ``upsert`` stores or replaces points by ``chunk.id`` (ids are UUID strings); idempotent.
    - ``delete`` removes the given ids; unknown ids are ignored.
    - ``score_dense`` ranks by cosine similarity; ``score_sparse`` by the dot product of sparse
      vectors with IDF weighting applied by the store (Qdrant's ``Modifier.IDF``), so term
      statistics live in the index, not in each process. Both return at most ``limit``
      ``(chunk id, score)`` pairs, best first. With ``within`` they score only those ids (an
      empty ``within`` scores none; a point with no shared term is not returned by
      ``score_sparse``, nor is anything for a query with no terms).
    - ``chunks(ids)`` gives the chunks of the ids that exist, by id. Scores come without the
      chunks because reading payloads is most of a search's cost: a caller that ranks many
      candidates reads the few it keeps.
    - ``ids()`` lists every stored chunk id (used to collect points no document owns).
    - ``count()`` is the number of points; ``optimize()`` builds search indexes (HNSW) after bulk
      writes; ``close()`` persists everything and releases files. Data survives close + reopen.
    Vendor errors are raised as ``ProviderError``.
    """

    def upsert(self, points: Sequence[IndexedChunk]) -> None: ...

    def delete(self, chunk_ids: Sequence[str]) -> None: ...

    def score_dense(
        self, vector: Sequence[float], limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]: ...

    def score_sparse(
        self, vector: SparseVector, limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]: ...

    def chunks(self, chunk_ids: Collection[str]) -> dict[str, Chunk]: ...

    def ids(self) -> set[str]: ...

    def count(self) -> int: ...

    def optimize(self) -> None: ...

    def close(self) -> None: ...
