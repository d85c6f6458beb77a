"""The Qdrant server store against the ``VectorStore`` contract, on qdrant-client's local mode.

Local mode runs the same client API in process (no server can run here); it stands in for the
wire protocol, not for the server's own indexing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models
from vector_store_contract import (
    DIMENSION,
    Reopen,
    VectorStoreContract,
    basis,
    corpus,
    search_dense,
)

from rag_chatbot.errors import ProviderError, ProviderUnavailable
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.payload import collection_name
from rag_chatbot.providers.vector_stores.qdrant_server import QdrantServerStore

COLLECTION = collection_name("test-model")
SHM = Path("/dev/shm")


@pytest.fixture
def storage_dir(tmp_path: Path) -> Iterator[Path]:
    """Where local mode keeps its SQLite file: in RAM when possible.

    Local mode commits once per point; on a busy disk each commit's fsync took ~14 ms, which made
    one 1,500-point test take 25 s instead of 1.5 s. tmpfs keeps the files across close + reopen.
    """
    if not SHM.is_dir():
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=SHM, prefix="qdrant-local-") as directory:
        yield Path(directory)


class TestQdrantServerStore(VectorStoreContract):
    @pytest.fixture
    def store(self, storage_dir: Path) -> Iterator[QdrantServerStore]:
        store = QdrantServerStore(QdrantClient(path=str(storage_dir)), COLLECTION, DIMENSION)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, storage_dir: Path) -> Iterator[Reopen]:
        opened: list[QdrantServerStore] = []

        def _reopen(store: VectorStore) -> VectorStore:
            store.close()
            client = QdrantClient(path=str(storage_dir))
            opened.append(QdrantServerStore(client, COLLECTION, DIMENSION))
            return opened[-1]

        yield _reopen
        for store in opened:
            store.close()

    def test_creates_the_collection_with_named_vectors(self, store: QdrantServerStore) -> None:
        params = store._client.get_collection(COLLECTION).config.params

        assert isinstance(params.vectors, dict)
        assert params.vectors["dense"].size == DIMENSION
        assert params.vectors["dense"].distance == models.Distance.COSINE
        assert params.sparse_vectors is not None
        assert params.sparse_vectors["lexical"].modifier == models.Modifier.IDF

    def test_an_existing_collection_of_another_dimension_is_refused(
        self, store: QdrantServerStore
    ) -> None:
        store.upsert(corpus())

        with pytest.raises(ProviderError, match="8-dimensional 'dense' vectors"):
            QdrantServerStore(store._client, COLLECTION, DIMENSION * 2)
        assert QdrantServerStore(store._client, COLLECTION, DIMENSION).count() == len(corpus())

    def test_vendor_errors_become_provider_errors(self, store: QdrantServerStore) -> None:
        with pytest.raises(ProviderError):
            store.score_dense([1.0, 0.0], limit=1)

    def test_an_unreachable_server_is_unavailable(self) -> None:
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            QdrantServerStore.from_url("http://127.0.0.1:9", None, COLLECTION, DIMENSION)

    def test_optimize_changes_nothing(self, store: QdrantServerStore) -> None:
        points = corpus()
        store.upsert(points)

        store.optimize()

        assert search_dense(store, basis(4), limit=1)[0].chunk == points[4].chunk
