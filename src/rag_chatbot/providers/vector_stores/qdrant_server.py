"""``VectorStore`` on a Qdrant server (or qdrant-client's local mode, which speaks the same API)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException

from rag_chatbot.domain import Chunk, IndexedChunk, SparseVector
from rag_chatbot.errors import (
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RagChatbotError,
)
from rag_chatbot.providers.vector_stores.payload import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    chunk_from_payload,
    chunk_to_payload,
)

_BATCH_SIZE = 256
_SCROLL_PAGE = 1024


class QdrantServerStore:
    """Chunks in the Qdrant collection ``collection``: dense vectors (cosine) and BM25 sparse ones.

    Contract: the ``VectorStore`` protocol. The collection is created if missing; an existing
    one whose ``dense`` vectors have another size, or that lacks the ``lexical`` sparse vectors,
    raises ``ProviderError``. Writes go in batches of 256 and return once the server has applied
    them (``wait=True``). ``optimize()`` does nothing: the server builds HNSW itself. A server
    that cannot be reached raises ``ProviderUnavailable`` (``ProviderTimeout`` on a timeout).
    ``close()`` closes the client, which the store owns from then on.
    """

    def __init__(self, client: QdrantClient, collection: str, dimension: int) -> None:
        self.collection = collection
        self.dimension = dimension
        self._client = client
        self._ensure_collection()

    @classmethod
    def from_url(
        cls,
        url: str,
        api_key: str | None,
        collection: str,
        dimension: int,
        *,
        timeout: int = 10,
    ) -> QdrantServerStore:
        """A store on the server at ``url`` (``api_key`` may be None for an open server)."""
        with _vendor_errors("connect"):
            # The version check would only warn; opening the collection reports a dead server.
            client = QdrantClient(
                url=url, api_key=api_key, timeout=timeout, check_compatibility=False
            )
        return cls(client, collection, dimension)

    def upsert(self, points: Sequence[IndexedChunk]) -> None:
        with _vendor_errors("upsert"):
            for start in range(0, len(points), _BATCH_SIZE):
                batch = [_to_point(p) for p in points[start : start + _BATCH_SIZE]]
                self._client.upsert(self.collection, points=batch, wait=True)

    def delete(self, chunk_ids: Sequence[str]) -> None:
        if not chunk_ids:
            return
        selector = models.PointIdsList(points=list(chunk_ids))
        with _vendor_errors("delete"):
            self._client.delete(self.collection, points_selector=selector, wait=True)

    def score_dense(
        self, vector: Sequence[float], limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        found = self._points(list(vector), DENSE_VECTOR, limit, within)
        return [(str(p.id), p.score) for p in found]

    def score_sparse(
        self, vector: SparseVector, limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        if not vector.indices:
            return []
        sparse = models.SparseVector(indices=list(vector.indices), values=list(vector.values))
        found = self._points(sparse, SPARSE_VECTOR, limit, within)
        return [(str(p.id), p.score) for p in found]

    def chunks(self, chunk_ids: Collection[str]) -> dict[str, Chunk]:
        if not chunk_ids:
            return {}
        with _vendor_errors("retrieve"):
            records = self._client.retrieve(
                self.collection, ids=list(chunk_ids), with_payload=True, with_vectors=False
            )
        return {str(r.id): chunk_from_payload(r.id, r.payload) for r in records}

    def ids(self) -> set[str]:
        found: set[str] = set()
        offset: models.ExtendedPointId | None = None
        with _vendor_errors("scroll"):
            while True:
                records, offset = self._client.scroll(
                    self.collection,
                    limit=_SCROLL_PAGE,
                    offset=offset,
                    with_payload=False,
                    with_vectors=False,
                )
                found.update(str(record.id) for record in records)
                if offset is None:
                    return found

    def count(self) -> int:
        with _vendor_errors("count"):
            return self._client.count(self.collection, exact=True).count

    def optimize(self) -> None:
        """Nothing to do: the server indexes in the background as points arrive."""

    def close(self) -> None:
        with _vendor_errors("close"):
            self._client.close()

    def _ensure_collection(self) -> None:
        with _vendor_errors("open the collection"):
            if not self._client.collection_exists(self.collection):
                self._client.create_collection(
                    self.collection,
                    vectors_config={
                        DENSE_VECTOR: models.VectorParams(
                            size=self.dimension, distance=models.Distance.COSINE
                        )
                    },
                    sparse_vectors_config={
                        SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                )
                return
            params = self._client.get_collection(self.collection).config.params
        dense = params.vectors.get(DENSE_VECTOR) if isinstance(params.vectors, dict) else None
        if dense is None or dense.size != self.dimension:
            found = "no" if dense is None else f"{dense.size}-dimensional"
            raise ProviderError(
                f"Qdrant collection {self.collection!r} has {found} {DENSE_VECTOR!r} vectors but "
                f"the embedding model makes {self.dimension}-dimensional ones; use a collection "
                "per model (see collection_name) or re-index"
            )
        if SPARSE_VECTOR not in (params.sparse_vectors or {}):
            raise ProviderError(
                f"Qdrant collection {self.collection!r} has no {SPARSE_VECTOR!r} sparse vectors"
            )

    def _points(
        self,
        query: list[float] | models.SparseVector,
        using: str,
        limit: int,
        within: Collection[str] | None,
    ) -> list[models.ScoredPoint]:
        """The points ``query`` finds, without payloads: those cost most of a search's time."""
        if limit <= 0 or (within is not None and not within):
            return []
        only = (
            None
            if within is None
            else models.Filter(must=[models.HasIdCondition(has_id=list(within))])
        )
        with _vendor_errors("search"):
            response = self._client.query_points(
                self.collection,
                query=query,
                using=using,
                limit=limit,
                query_filter=only,
                with_payload=False,
            )
        return response.points

    def __repr__(self) -> str:
        return f"QdrantServerStore(collection={self.collection!r}, dimension={self.dimension})"


def _to_point(point: IndexedChunk) -> models.PointStruct:
    sparse = models.SparseVector(
        indices=list(point.sparse.indices), values=list(point.sparse.values)
    )
    return models.PointStruct(
        id=point.chunk.id,
        vector={DENSE_VECTOR: list(point.dense), SPARSE_VECTOR: sparse},
        payload=chunk_to_payload(point.chunk),
    )


@contextmanager
def _vendor_errors(action: str) -> Iterator[None]:
    """Re-raise qdrant-client's errors as ``ProviderError``s, network failures as unavailable."""
    try:
        yield
    except RagChatbotError:
        raise
    except ResponseHandlingException as exc:
        # The request never got an answer: the cause is the transport's exception.
        if isinstance(exc.source, httpx.TimeoutException):
            raise ProviderTimeout(f"Qdrant timed out ({action}): {exc.source}") from exc
        raise ProviderUnavailable(f"Qdrant is unreachable ({action}): {exc.source}") from exc
    except Exception as exc:
        raise ProviderError(f"Qdrant failed ({action}): {exc}") from exc
