"""SharedVectorStore (a client) against the ``VectorStore`` contract, through a VectorStoreServer
over a real Unix socket in front of a real Qdrant Edge shard; plus what only sharing has: errors
across the wire, several client processes at once, a server that stops or stalls."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Client
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

from rag_chatbot.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore
from rag_chatbot.providers.vector_stores.shared.client import (
    AUTHKEY_ENV,
    SOCKET_ENV,
    SharedVectorStore,
)
from rag_chatbot.providers.vector_stores.shared.server import VectorStoreServer
from rag_chatbot.providers.vector_stores.shared.workers import share_with_workers
from rag_chatbot.retrieval.lexical import LexicalEncoder
from rag_chatbot.retrieval.scoring import complete_scores, served_scorer

SRC = Path(__file__).resolve().parents[2] / "src"
AUTHKEY = b"test-authkey"


class Served:
    """A Qdrant Edge shard served by a ``VectorStoreServer`` running in this process."""

    def __init__(self, shard: Path, socket: Path, indexing_threshold_kb: int | None = None) -> None:
        self.edge = QdrantEdgeStore(shard, DIMENSION, indexing_threshold_kb=indexing_threshold_kb)
        self.server = VectorStoreServer(self.edge, str(socket), AUTHKEY)
        self.server.start()

    def close(self) -> None:
        self.server.stop()
        self.edge.close()


def client(socket: Path, *, timeout: float = 60.0, pool_size: int = 8) -> SharedVectorStore:
    return SharedVectorStore(str(socket), AUTHKEY, pool_size, timeout=timeout)


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "vector-store.sock"


@pytest.fixture
def served(tmp_path: Path, socket_path: Path) -> Iterator[list[Served]]:
    """The backends opened so far, the live one last (``reopen`` adds one)."""
    # A 1 KB threshold makes optimize() build HNSW even for the contract's few points.
    backends = [Served(tmp_path / "shard", socket_path, indexing_threshold_kb=1)]
    yield backends
    for backend in backends:
        backend.close()


class TestSharedVectorStore(VectorStoreContract):
    @pytest.fixture
    def store(self, served: list[Served], socket_path: Path) -> Iterator[SharedVectorStore]:
        store = client(socket_path)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self, served: list[Served], tmp_path: Path, socket_path: Path) -> Iterator[Reopen]:
        opened: list[SharedVectorStore] = []

        def _reopen(store: VectorStore) -> VectorStore:
            # Everything closes, down to the shard, so the data must come back from disk.
            store.close()
            served[-1].close()
            served.append(Served(tmp_path / "shard", socket_path))
            opened.append(client(socket_path))
            return opened[-1]

        yield _reopen
        for store in opened:
            store.close()

    def test_store_errors_come_back_as_provider_errors(self, store: SharedVectorStore) -> None:
        with pytest.raises(ProviderError, match="dimension"):
            store.score_dense([1.0, 0.0], limit=1)
        assert store.count() == 0  # the connection survives an error reply

    def test_close_is_not_served_the_owner_closes_the_store(
        self, store: SharedVectorStore, served: list[Served], socket_path: Path
    ) -> None:
        store.upsert(corpus())
        with Client(str(socket_path), "AF_UNIX", authkey=AUTHKEY) as raw:
            raw.send(("close", (), {}))
            assert raw.recv()[:2] == ("error", "ValueError")
        store.close()
        store.close()

        assert served[-1].edge.count() == len(corpus())
        with pytest.raises(ProviderError, match="closed"):
            store.count()

    def test_a_wrong_authkey_is_refused(self, store: SharedVectorStore, socket_path: Path) -> None:
        intruder = SharedVectorStore(str(socket_path), b"guessed")

        with pytest.raises(ProviderError, match="authkey") as raised:
            intruder.count()
        assert not isinstance(raised.value, ProviderUnavailable)
        assert store.count() == 0


def test_no_server_means_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailable):
        client(tmp_path / "nobody-here.sock").count()


class SlowStore:
    """Qdrant Edge whose ``count`` waits for ``release``: a server stuck in a long call."""

    def __init__(self, edge: QdrantEdgeStore) -> None:
        self.edge = edge
        self.release = threading.Event()
        self.entered = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.edge, name)

    def count(self) -> int:
        self.entered.set()
        self.release.wait(30)
        return self.edge.count()


@pytest.fixture
def slow(tmp_path: Path, socket_path: Path) -> Iterator[tuple[SlowStore, VectorStoreServer]]:
    edge = QdrantEdgeStore(tmp_path / "shard", DIMENSION)
    slow = SlowStore(edge)
    server = VectorStoreServer(slow, str(socket_path), AUTHKEY)  # type: ignore[arg-type]
    server.start()
    yield slow, server
    slow.release.set()
    server.stop()
    edge.close()


@pytest.mark.timeout(30)
def test_a_server_that_stops_mid_call_raises_unavailable_not_a_hang(
    slow: tuple[SlowStore, VectorStoreServer], socket_path: Path
) -> None:
    slow_store, server = slow
    store = client(socket_path)
    store.upsert(corpus())  # a pooled connection exists when the server goes
    outcome: list[BaseException] = []

    def waiting_call() -> None:
        try:
            store.count()
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=waiting_call)
    caller.start()
    assert slow_store.entered.wait(10)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    caller.join(10)  # while the store call still runs on the server side

    assert not caller.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ProviderUnavailable)
    slow_store.release.set()
    stopper.join(15)
    assert not stopper.is_alive() and not socket_path.exists()
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        store.ids()
    assert time.monotonic() - started < 5
    store.close()


@pytest.mark.timeout(30)
def test_a_call_without_reply_times_out_and_the_next_call_is_not_confused(
    slow: tuple[SlowStore, VectorStoreServer], socket_path: Path
) -> None:
    slow_store, _ = slow
    store = client(socket_path, timeout=0.5, pool_size=1)
    points = corpus()
    store.upsert(points)

    with pytest.raises(ProviderTimeout):
        store.count()
    slow_store.release.set()  # the late reply goes to a connection the client dropped

    assert store.ids() == {p.chunk.id for p in points}
    assert store.count() == len(points)
    store.close()


def test_threads_of_one_client_share_a_small_pool(served: list[Served], socket_path: Path) -> None:
    store = client(socket_path, pool_size=2)
    points = [make_point(f"passage {i}", basis(i, tilt=i / 100)) for i in range(64)]
    failures: list[BaseException] = []

    def work(part: int) -> None:
        try:
            mine = points[part::8]
            store.upsert(mine)
            for point in mine:
                assert search_dense(store, point.dense, limit=1)[0].chunk == point.chunk
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(part,)) for part in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert failures == []
    assert store.ids() == {p.chunk.id for p in points}
    store.close()


def test_share_with_workers_exports_the_address_and_cleans_up(tmp_path: Path) -> None:
    edge = QdrantEdgeStore(tmp_path / "shard", DIMENSION)
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 5, "run", "vector-store.sock")
    try:
        for socket_path in (tmp_path / "run" / "vector-store.sock", deep):
            socket_path.parent.mkdir(parents=True, exist_ok=True)
            socket_path.write_text("stale")  # left by a server that was killed
            assert SOCKET_ENV not in os.environ
            with share_with_workers(edge, socket_path) as server:
                shared = SharedVectorStore.from_environment()
                assert shared is not None and shared.address == server.address
                shared.upsert(corpus()[:1])
                assert shared.count() == 1
                shared.close()
                assert Path(server.address).exists()
            assert SOCKET_ENV not in os.environ and AUTHKEY_ENV not in os.environ
            assert not Path(server.address).exists()
            edge.delete(list(edge.ids()))
        # Too long for a socket address: served from a private temporary folder instead.
        assert server.address != str(deep) and not Path(server.address).parent.exists()
    finally:
        edge.close()
    assert SharedVectorStore.from_environment() is None


def test_a_procedure_runs_where_the_index_is_with_the_same_result(
    tmp_path: Path, socket_path: Path
) -> None:
    edge = QdrantEdgeStore(tmp_path / "shard", DIMENSION)
    server = VectorStoreServer(edge, str(socket_path), AUTHKEY, [complete_scores])
    server.start()
    store = client(socket_path)
    try:
        store.upsert(corpus())
        query = (0.3, 1.0, 0.1, 0.01, 0.0, 0.0, 0.0, 0.0)
        sparse = LexicalEncoder().encode_query("vacuum")

        served = served_scorer(store.run)(query, sparse, 2)

        # The same lists as the rule run here over four round trips, and as on the shard.
        assert served == complete_scores(store, query, sparse, 2)
        assert served == complete_scores(edge, query, sparse, 2)
        assert [len(scores) for scores in served] == [3, 1]
        with pytest.raises(ProviderError, match="unknown vector store method 'read_hits'"):
            store.run("read_hits", [])
    finally:
        store.close()
        server.stop()
        edge.close()


# Upserts its own points in batches from 4 threads, checking each batch is searchable at once.
_CLIENT = """
import sys, uuid
from concurrent.futures import ThreadPoolExecutor
from rag_chatbot.domain import Chunk, IndexedChunk, SparseVector
from rag_chatbot.providers.vector_stores.shared.client import SharedVectorStore
from rag_chatbot.retrieval.scoring import read_hits

socket, key, who, n = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], int(sys.argv[4])
store = SharedVectorStore(socket, key, pool_size=3, timeout=60)

def point(i):
    dense = tuple(float((i >> bit) & 1) + (0.5 if who == "a" else 0.25) for bit in range(8))
    chunk_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{who}-{i}"))
    chunk = Chunk(chunk_id, who, f"{who}.md", who, (), "", i, f"{who} passage {i}")
    return IndexedChunk(chunk, dense, SparseVector((i % 50,), (1.0,)))

def batch(start):
    points = [point(i) for i in range(start, start + 25)]
    store.upsert(points)
    within = {p.chunk.id for p in points}
    found = read_hits(store, store.score_dense(points[0].dense, limit=5, within=within))
    assert found[0].chunk == points[0].chunk, (found, points[0])
    return len(found)

with ThreadPoolExecutor(4) as pool:
    assert all(pool.map(batch, range(0, n, 25)))
store.close()
print("ok", flush=True)
"""


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(120)
def test_two_client_processes_write_and_search_at_once(
    served: list[Served], socket_path: Path
) -> None:
    n = 400
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _CLIENT, str(socket_path), AUTHKEY.hex(), who, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for who in ("a", "b")
    ]
    outputs = [writer.communicate(timeout=90) for writer in writers]

    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0 and out.strip() == "ok", err
    store = client(socket_path)
    assert store.count() == 2 * n
    sources = {hit.chunk.source for hit in search_dense(store, basis(0), limit=2 * n)}
    assert sources == {"a.md", "b.md"}
    assert len(store.ids()) == 2 * n
    store.close()
