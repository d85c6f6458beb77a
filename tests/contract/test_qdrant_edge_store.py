"""Qdrant Edge against the ``VectorStore`` contract, plus what only an in-process shard has."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from vector_store_contract import (
    DIMENSION,
    Reopen,
    VectorStoreContract,
    basis,
    corpus,
    make_point,
    search_dense,
)

from rag_chatbot.errors import ProviderError
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

SRC = Path(__file__).resolve().parents[2] / "src"


class TestQdrantEdgeStore(VectorStoreContract):
    @pytest.fixture
    def shard_path(self, tmp_path: Path) -> Path:
        return tmp_path / "shard"

    @pytest.fixture
    def store(self, shard_path: Path) -> Iterator[QdrantEdgeStore]:
        # A 1 KB threshold makes optimize() build HNSW even for the contract's few points.
        store = QdrantEdgeStore(shard_path, DIMENSION, indexing_threshold_kb=1)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, shard_path: Path) -> Iterator[Reopen]:
        opened: list[QdrantEdgeStore] = []

        def _reopen(store: VectorStore) -> VectorStore:
            store.close()
            opened.append(QdrantEdgeStore(shard_path, DIMENSION))
            return opened[-1]

        yield _reopen
        for store in opened:
            store.close()

    def test_optimize_builds_hnsw(self, store: QdrantEdgeStore, shard_path: Path) -> None:
        # 200 points of 8 floats: 6.4 KB, over the fixture's 1 KB indexing threshold.
        points = [make_point(f"passage {i}", basis(i, tilt=i / 400)) for i in range(200)]
        store.upsert(points)
        assert not list(shard_path.glob("segments/*/vector_index-dense/hnsw_config.json"))

        store.optimize()

        assert list(shard_path.glob("segments/*/vector_index-dense/hnsw_config.json"))
        assert search_dense(store, basis(9, tilt=9 / 400), limit=1)[0].chunk == points[9].chunk

    def test_reopening_with_another_dimension_is_refused(
        self, store: QdrantEdgeStore, shard_path: Path
    ) -> None:
        store.upsert(corpus())
        store.close()

        with pytest.raises(ProviderError, match="holds 8-dimensional vectors"):
            QdrantEdgeStore(shard_path, DIMENSION * 2)
        reopened = QdrantEdgeStore(shard_path, DIMENSION)
        assert reopened.count() == len(corpus())
        reopened.close()

    def test_a_shard_opens_in_one_place_at_a_time(
        self, store: QdrantEdgeStore, shard_path: Path
    ) -> None:
        # Qdrant Edge locks the shard's WAL: a second open fails at once, it does not wait.
        with pytest.raises(ProviderError, match="already open"):
            QdrantEdgeStore(shard_path, DIMENSION)

    def test_calls_after_close_raise_provider_error(self, store: QdrantEdgeStore) -> None:
        store.close()
        store.close()

        with pytest.raises(ProviderError, match="closed"):
            store.count()

    def test_vendor_errors_become_provider_errors(self, store: QdrantEdgeStore) -> None:
        with pytest.raises(ProviderError, match="dimension"):
            store.score_dense([1.0, 0.0], limit=1)


# Writes N points in several upsert calls, says so, then waits to be killed.
_WRITER = """
import sys, time, uuid
from pathlib import Path
from rag_chatbot.domain import Chunk, IndexedChunk, SparseVector
from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

path, n, flush = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "flush"
store = QdrantEdgeStore(path, 8, flush_writes=flush)
points = [
    IndexedChunk(
        chunk=Chunk(str(uuid.uuid5(uuid.NAMESPACE_URL, f"chunk-{i}")), "doc", "a.md", "A", (),
                    "", i, f"passage {i}"),
        dense=tuple(float((i >> bit) & 1) + 0.5 for bit in range(8)),
        sparse=SparseVector((i % 50,), (1.0,)),
    )
    for i in range(n)
]
for start in range(0, n, 300):
    store.upsert(points[start : start + 300])
print("written", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("flush_writes", [False, True], ids=["no-flush", "flush"])
def test_upserts_that_returned_survive_kill_9(tmp_path: Path, flush_writes: bool) -> None:
    """Found: yes, with or without flush; the WAL (a shared mmap) is replayed on load."""
    path, n = tmp_path / "shard", 2000
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(n), "flush" if flush_writes else "-"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "written"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        if writer.stdout is not None:
            writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL

    store = QdrantEdgeStore(path, DIMENSION)
    try:
        expected = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"chunk-{i}")) for i in range(n)}
        assert store.ids() == expected
        assert store.count() == n
        found = search_dense(store, tuple(float((77 >> b) & 1) + 0.5 for b in range(8)), limit=1)
        assert found[0].chunk.text.startswith("passage ")
    finally:
        store.close()
