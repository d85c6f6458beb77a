"""``VectorStore`` on Qdrant Edge: Qdrant's engine inside this process, one shard in one folder.

Measured with qdrant-edge-py 0.9 (see tests/contract/test_qdrant_edge_store.py):
- An ``update`` that has returned survives ``kill -9`` of the process even without ``flush()``:
  the write-ahead log is a shared memory map, so the kernel keeps it and ``load`` replays it. It
  is not synced to the disk until ``flush()``, so an OS crash or power cut may lose it; this store
  therefore flushes after every ``upsert``/``delete`` call unless told not to (5-100 ms each).
- A shard folder can be open in one place at a time: a second open, from this process or another,
  fails at once (``Can't init WAL: Kind(WouldBlock)``) until the first closes or dies.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    Filter,
    HasIdCondition,
    Modifier,
    Point,
    Query,
    QueryRequest,
    ScoredPoint,
    ScrollRequest,
    SearchParams,
    UpdateOperation,
)
from qdrant_edge import SparseVector as EdgeSparseVector

from rag_chatbot.domain import Chunk, IndexedChunk, SparseVector
from rag_chatbot.errors import ProviderError, ProviderUnavailable, RagChatbotError
from rag_chatbot.providers.vector_stores.payload import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    chunk_from_payload,
    chunk_to_payload,
)

_BATCH_SIZE = 256
_SCROLL_PAGE = 1024
# The shard writes its settings here; read only to explain a dimension mismatch clearly.
_CONFIG_FILE = "edge_config.json"


class QdrantEdgeStore:
    """Chunks in a Qdrant Edge shard at ``path``: dense vectors (cosine) and BM25 sparse vectors.

    Contract: the ``VectorStore`` protocol. The shard is created at ``path`` if the folder is
    missing or empty, else loaded; loading a shard made for another dense dimension raises
    ``ProviderError``; opening a shard that is already open raises ``ProviderUnavailable``
    (a ``ProviderError``) with a message that says what to do. Search is an exact scan
    until ``optimize()`` builds HNSW (then approximate with ``hnsw_ef`` candidates); points
    written after that are scanned exactly until the next ``optimize()``. With ``flush_writes``
    each ``upsert``/``delete`` returns only once it is on disk; without, once it survives a
    crash of this process (not of the machine). ``close()`` flushes and is idempotent; any other
    call after it raises ``ProviderError``.
    """

    def __init__(
        self,
        path: Path,
        dimension: int,
        *,
        hnsw_ef: int = 128,
        flush_writes: bool = True,
        indexing_threshold_kb: int | None = None,
    ) -> None:
        """``indexing_threshold_kb``: segments smaller than this get no HNSW (None: Qdrant's)."""
        self.path = Path(path)
        self.dimension = dimension
        self._indexing_threshold_kb = indexing_threshold_kb
        self._search_params = SearchParams(hnsw_ef=hnsw_ef)
        self._flush_writes = flush_writes
        self._shard: EdgeShard | None = self._open()

    def upsert(self, points: Sequence[IndexedChunk]) -> None:
        shard = self._live()
        with _vendor_errors("upsert"):
            for start in range(0, len(points), _BATCH_SIZE):
                batch = [_to_point(p) for p in points[start : start + _BATCH_SIZE]]
                shard.update(UpdateOperation.upsert_points(batch))
            if points and self._flush_writes:
                shard.flush()

    def delete(self, chunk_ids: Sequence[str]) -> None:
        shard = self._live()
        if not chunk_ids:
            return
        with _vendor_errors("delete"):
            shard.update(UpdateOperation.delete_points(list(chunk_ids)))
            if self._flush_writes:
                shard.flush()

    def score_dense(
        self, vector: Sequence[float], limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        found = self._query(self._dense(vector), limit, self._search_params, within)
        return [(str(point.id), point.score) for point in found]

    def score_sparse(
        self, vector: SparseVector, limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        query = self._sparse(vector)
        if query is None:
            return []
        return [(str(p.id), p.score) for p in self._query(query, limit, None, within)]

    def chunks(self, chunk_ids: Collection[str]) -> dict[str, Chunk]:
        shard = self._live()
        if not chunk_ids:
            return {}
        with _vendor_errors("retrieve"):
            records = shard.retrieve(list(chunk_ids), True, False)
        return {str(r.id): chunk_from_payload(r.id, r.payload) for r in records}

    def ids(self) -> set[str]:
        shard = self._live()
        found: set[str] = set()
        offset = None
        with _vendor_errors("scroll"):
            while True:
                request = ScrollRequest(
                    offset=offset, limit=_SCROLL_PAGE, with_payload=False, with_vector=False
                )
                records, offset = shard.scroll(request)
                found.update(str(record.id) for record in records)
                if offset is None:
                    return found

    def count(self) -> int:
        shard = self._live()
        with _vendor_errors("count"):
            return shard.count(CountRequest(exact=True))

    def optimize(self) -> None:
        shard = self._live()
        with _vendor_errors("optimize"):
            shard.optimize()
            shard.flush()

    def close(self) -> None:
        if self._shard is None:
            return
        shard, self._shard = self._shard, None
        with _vendor_errors("close"):
            try:
                shard.flush()
            finally:
                shard.close()  # Releases the folder's lock even if the flush failed.

    def _open(self) -> EdgeShard:
        threshold = self._indexing_threshold_kb
        # None keeps what the shard has; an optimizers object would reset its unset fields.
        optimizers = (
            None if threshold is None else EdgeOptimizersConfig(indexing_threshold=threshold)
        )
        config = EdgeConfig(
            vectors={DENSE_VECTOR: EdgeVectorParams(size=self.dimension, distance=Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            optimizers=optimizers,
            # A query here is too small to split: spreading it over Qdrant's default search
            # threads cost more CPU (and wall time) than one thread doing it all.
            max_search_threads=1,
        )
        exists = self.path.is_dir() and any(self.path.iterdir())
        if exists:
            self._check_dimension()
        with _vendor_errors(f"{'open' if exists else 'create'} the shard at {self.path}"):
            try:
                if not exists:
                    return EdgeShard.create(str(self.path), config)
                # Given a config, load checks it against the segments (names, size, distance).
                return EdgeShard.load(str(self.path), config)
            except Exception as exc:
                if "WouldBlock" in str(exc):  # The WAL's lock: the shard is open elsewhere.
                    raise ProviderUnavailable(_held_elsewhere(self.path)) from exc
                raise

    def _check_dimension(self) -> None:
        try:
            stored = json.loads((self.path / _CONFIG_FILE).read_text())
            size = stored["vectors"][DENSE_VECTOR]["size"]
        except (OSError, ValueError, KeyError, TypeError):
            return  # Unknown layout: EdgeShard.load still refuses a mismatch, less legibly.
        if size != self.dimension:
            raise ProviderError(
                f"the Qdrant Edge shard at {self.path} holds {size}-dimensional vectors but the "
                f"embedding model makes {self.dimension}-dimensional ones; index into a new path "
                "(one per model) or re-index this one"
            )

    def _live(self) -> EdgeShard:
        if self._shard is None:
            raise ProviderError(f"the Qdrant Edge store at {self.path} is closed")
        return self._shard

    def _dense(self, vector: Sequence[float]) -> Query:
        self._live()
        return Query.Nearest(list(vector), using=DENSE_VECTOR)

    def _sparse(self, vector: SparseVector) -> Query | None:
        """None for a query of stopwords only: nothing can match, Qdrant need not be asked."""
        self._live()
        if not vector.indices:
            return None
        sparse = EdgeSparseVector(list(vector.indices), list(vector.values))
        return Query.Nearest(sparse, using=SPARSE_VECTOR)

    def _query(
        self,
        query: Query,
        limit: int,
        params: SearchParams | None,
        within: Collection[str] | None,
    ) -> list[ScoredPoint]:
        """The points ``query`` finds, without payloads: those cost most of a search's time."""
        shard = self._live()
        if limit <= 0 or (within is not None and not within):
            return []
        only = None if within is None else Filter(must=[HasIdCondition(set(within))])
        request = QueryRequest(
            limit=limit, query=query, with_payload=False, params=params, filter=only
        )
        with _vendor_errors("search"):
            return list(shard.query(request))

    def __repr__(self) -> str:
        return f"QdrantEdgeStore(path={str(self.path)!r}, dimension={self.dimension})"


def _to_point(point: IndexedChunk) -> Point:
    sparse = EdgeSparseVector(list(point.sparse.indices), list(point.sparse.values))
    return Point(
        point.chunk.id,
        {DENSE_VECTOR: list(point.dense), SPARSE_VECTOR: sparse},
        chunk_to_payload(point.chunk),
    )


@contextmanager
def _vendor_errors(action: str) -> Iterator[None]:
    """Re-raise what qdrant_edge raises (plain ``Exception``s) as ``ProviderError``."""
    try:
        yield
    except RagChatbotError:
        raise
    except Exception as exc:
        raise ProviderError(f"Qdrant Edge failed ({action}): {exc}") from exc


def _held_elsewhere(path: Path) -> str:
    return (
        f"the vector index {path} is already open in another process (a running "
        "`rag-chatbot serve`?): stop that process first, or add documents through the running "
        "server (POST /api/documents, or the admin page at /admin)"
    )
