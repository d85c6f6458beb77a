"""One process's ``VectorStore`` served to others over a Unix socket, and the client that uses it.

Qdrant Edge opens a shard in one process only, so ``serve --workers N`` opens it in the parent,
serves it with ``VectorStoreServer`` and each worker uses a ``SharedVectorStore`` (see
``share_with_workers``). Wire format: ``multiprocessing.connection``, a request
``(method, args, kwargs)``, a reply ``("ok", result)`` or ``("error", type name, message)``,
pickled, and only read from a peer that proved it holds the authkey (HMAC, both ways).

Threads, measured with qdrant-edge-py 0.9: 2 threads upserting, deleting and optimizing while 2
search one shard for 15 s gave no error and every point after reopen, so the shard is safe to
share. Its calls hold the GIL (an ``optimize`` of 30k points froze the process's other threads
for its 11 s): a thread a connection keeps clients from queueing behind one another's replies,
not searches parallel. Writes take a lock anyway, as the Qdrant server serializes updates.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import (
    Client,
    Connection,
    Listener,
    answer_challenge,
    deliver_challenge,
)
from pathlib import Path
from typing import Any, cast

from rag_chatbot import errors
from rag_chatbot.domain import Chunk, IndexedChunk, ScoredChunk, SparseVector
from rag_chatbot.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from rag_chatbot.providers.vector_stores.base import VectorStore

SOCKET_ENV = "RAG_CHATBOT_VECTOR_STORE_SOCKET"
AUTHKEY_ENV = "RAG_CHATBOT_VECTOR_STORE_AUTHKEY"

_WRITES = frozenset({"upsert", "delete", "optimize"})
_READS = {
    *("search_dense", "search_sparse", "score_dense", "score_sparse", "score_hybrid"),
    *("chunks", "ids", "count"),
}
_METHODS = _WRITES | _READS  # close: the owner's
# Building HNSW on a large index takes minutes (holding the server's GIL): no call timeout.
_UNTIMED = frozenset({"optimize"})
# Longest path a Linux AF_UNIX address holds (108 bytes with the terminating NUL).
_MAX_SOCKET_PATH = 107
_JOIN_SECONDS = 10.0

log = logging.getLogger(__name__)


class VectorStoreServer:
    """Serves ``store``'s methods (all but ``close``: the owner closes it) at a Unix socket.

    Contract: ``start()`` binds ``address`` (a path; a file already there is replaced, so the
    caller must know it is stale) and accepts clients in a daemon thread, each connection
    served by its own thread after the authkey handshake. Store errors go back to the client
    as replies, never end the connection. ``stop()`` stops accepting, shuts every connection
    (clients then see the server gone at once), joins the threads and removes the socket
    file; it is idempotent. Usable as a context manager (start on enter, stop on exit).
    """

    def __init__(self, store: VectorStore, address: str, authkey: bytes) -> None:
        self.address = address
        self._store = store
        self._authkey = authkey
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()  # guards the two collections below
        self._connections: set[Connection] = set()
        self._threads: set[threading.Thread] = set()
        self._stopping = threading.Event()
        self._listener: Listener | None = None
        self._acceptor: threading.Thread | None = None

    def start(self) -> None:
        Path(self.address).unlink(missing_ok=True)
        self._listener = Listener(self.address, "AF_UNIX", backlog=64)
        self._acceptor = threading.Thread(
            target=self._accept, name="vector-store-accept", daemon=True
        )
        self._acceptor.start()
        log.info("vector store served", extra={"socket": self.address})

    def stop(self) -> None:
        if self._listener is None or self._stopping.is_set():
            return
        self._stopping.set()
        # accept() does not return when the listener closes: a connection wakes it.
        with suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
            wake.connect(self.address)
        if self._acceptor is not None:
            self._acceptor.join(_JOIN_SECONDS)
        with suppress(OSError):
            self._listener.close()  # also unlinks the socket file
        Path(self.address).unlink(missing_ok=True)
        with self._lock:
            for conn in self._connections:
                _shut(conn)
            threads = list(self._threads)
        for thread in threads:
            thread.join(_JOIN_SECONDS)
        log.info("vector store no longer served", extra={"socket": self.address})

    def __enter__(self) -> VectorStoreServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("vector store server: accept failed")
                self._stopping.wait(0.1)  # e.g. out of file descriptors: do not spin
                continue
            if self._stopping.is_set():
                conn.close()
                return
            thread = threading.Thread(
                target=self._serve, args=(conn,), name="vector-store-client", daemon=True
            )
            with self._lock:
                self._threads = {t for t in self._threads if t.is_alive()}
                self._threads.add(thread)
                self._connections.add(conn)
            thread.start()

    def _serve(self, conn: Connection) -> None:
        try:
            # In this thread, not in accept(): a client that never answers blocks only itself.
            deliver_challenge(conn, self._authkey)
            answer_challenge(conn, self._authkey)
            while True:
                conn.send(self._handle(conn.recv()))
        except (EOFError, OSError):
            pass  # the client left, or stop() shut the connection
        except AuthenticationError:
            log.warning("vector store client refused: wrong authkey")
        finally:
            with self._lock:
                self._connections.discard(conn)
                conn.close()

    def _handle(self, request: Any) -> tuple[object, ...]:
        try:
            method, args, kwargs = request
            if method not in _METHODS:
                raise ValueError(f"unknown vector store method {method!r}")
            call = getattr(self._store, method)
            if method in _WRITES:
                with self._write_lock:
                    return ("ok", call(*args, **kwargs))
            return ("ok", call(*args, **kwargs))
        except Exception as exc:
            if not isinstance(exc, errors.RagChatbotError):
                log.exception("vector store server: unexpected error")
            return ("error", type(exc).__name__, str(exc))


def _shut(conn: Connection) -> None:
    """Wake a thread blocked reading ``conn``: closing the descriptor would not."""
    with suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.shutdown(socket.SHUT_RDWR)


@dataclass
class _Slot:
    conn: Connection | None = None


class SharedVectorStore:
    """A ``VectorStore`` that forwards every call to a ``VectorStoreServer`` at ``address``.

    Contract: the ``VectorStore`` protocol. Up to ``pool_size`` calls run at once (one
    connection each, opened on first use); more wait for a free connection. A pooled
    connection found broken is replaced once (every method is idempotent, so a repeat is
    harmless). Raises ``ProviderUnavailable`` when the server cannot be reached,
    ``ProviderTimeout`` when a call (other than ``optimize``) gets no reply in ``timeout``
    seconds, and the server store's ``ProviderError`` (same class when it is one of ours)
    for what the store raised. ``close()`` closes this client's connections only (never the
    store) and is idempotent; any call after it raises ``ProviderError``.
    """

    def __init__(
        self, address: str, authkey: bytes, pool_size: int = 8, *, timeout: float = 300.0
    ) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {pool_size}")
        self.address = address
        self._authkey = authkey
        self._timeout = timeout
        self._slots = [_Slot() for _ in range(pool_size)]
        self._pool: queue.Queue[_Slot] = queue.Queue()
        for slot in self._slots:
            self._pool.put(slot)
        self._closed = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SharedVectorStore | None:
        """The store ``share_with_workers`` exported to this process, or None if there is none."""
        env = os.environ if environ is None else environ
        address = env.get(SOCKET_ENV)
        if not address:
            return None
        return cls(address, bytes.fromhex(env.get(AUTHKEY_ENV, "")))

    def upsert(self, points: Sequence[IndexedChunk]) -> None:
        self._call("upsert", list(points))

    def delete(self, chunk_ids: Sequence[str]) -> None:
        self._call("delete", list(chunk_ids))

    def search_dense(
        self, vector: Sequence[float], limit: int, within: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        found = self._call("search_dense", list(vector), limit, _plain(within))
        return cast(list[ScoredChunk], found)

    def search_sparse(
        self, vector: SparseVector, limit: int, within: Collection[str] | None = None
    ) -> list[ScoredChunk]:
        found = self._call("search_sparse", vector, limit, _plain(within))
        return cast(list[ScoredChunk], found)

    def score_dense(
        self, vector: Sequence[float], limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        found = self._call("score_dense", list(vector), limit, _plain(within))
        return cast(list[tuple[str, float]], found)

    def score_sparse(
        self, vector: SparseVector, limit: int, within: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        found = self._call("score_sparse", vector, limit, _plain(within))
        return cast(list[tuple[str, float]], found)

    def score_hybrid(
        self, vector: Sequence[float], sparse: SparseVector, limit: int
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        found = self._call("score_hybrid", list(vector), sparse, limit)
        return cast(tuple[list[tuple[str, float]], list[tuple[str, float]]], found)

    def chunks(self, chunk_ids: Collection[str]) -> dict[str, Chunk]:
        return cast(dict[str, Chunk], self._call("chunks", list(chunk_ids)))

    def ids(self) -> set[str]:
        return cast(set[str], self._call("ids"))

    def count(self) -> int:
        return cast(int, self._call("count"))

    def optimize(self) -> None:
        self._call("optimize")

    def close(self) -> None:
        self._closed = True
        for slot in self._slots:
            if slot.conn is not None:
                slot.conn.close()
                slot.conn = None

    def _call(self, method: str, *args: object) -> object:
        if self._closed:
            raise ProviderError(f"the shared vector store at {self.address} is closed")
        slot = self._pool.get()
        try:
            reply = self._exchange(slot, method, args)
        finally:
            self._pool.put(slot)
        if reply[0] == "ok":
            return reply[1]
        _, type_name, message = reply
        raise _remote_error(type_name, message)

    def _exchange(self, slot: _Slot, method: str, args: tuple[object, ...]) -> Any:
        reused = slot.conn is not None
        while True:
            if slot.conn is None:
                slot.conn = self._connect()
            conn = slot.conn
            try:
                conn.send((method, args, {}))
                if method not in _UNTIMED and not conn.poll(self._timeout):
                    raise ProviderTimeout(
                        f"the vector store server gave no reply to {method} in {self._timeout} s"
                    )
                return conn.recv()
            except BaseException as exc:
                # A late reply would be read as the next call's: never reuse this connection.
                conn.close()
                slot.conn = None
                if not isinstance(exc, EOFError | OSError):
                    raise
                if reused:  # the server may have restarted since it was opened: retry once
                    reused = False
                    continue
                raise ProviderUnavailable(
                    f"the vector store server at {self.address} went away ({exc!r})"
                ) from exc

    def _connect(self) -> Connection:
        try:
            return Client(self.address, "AF_UNIX", authkey=self._authkey)
        except AuthenticationError as exc:
            raise ProviderError(
                f"the vector store server at {self.address} refused this process's authkey"
            ) from exc
        except (EOFError, OSError) as exc:
            raise ProviderUnavailable(
                f"cannot reach the vector store server at {self.address} ({exc!r})"
            ) from exc


def _plain(within: Collection[str] | None) -> set[str] | None:
    """``within`` as a set: any ``Collection`` (a dict's keys view) may not pickle."""
    return None if within is None else set(within)


def _remote_error(type_name: str, message: str) -> ProviderError:
    """The server's error as ours: the same class when it is a ``ProviderError``, else one."""
    found = getattr(errors, type_name, None)
    if isinstance(found, type) and issubclass(found, ProviderError):
        return found(message)
    return ProviderError(f"vector store server: {type_name}: {message}")


@contextmanager
def share_with_workers(store: VectorStore, socket_path: Path) -> Iterator[VectorStoreServer]:
    """Serve ``store`` at ``socket_path`` and tell the processes started meanwhile where it is.

    Sets ``SOCKET_ENV`` and ``AUTHKEY_ENV`` (a fresh random key, hex) in ``os.environ`` for the
    block, so child processes (uvicorn's workers) inherit them and ``from_environment`` finds
    the store; at the end restores both, stops the server and removes the socket file. A file
    already at ``socket_path`` is replaced: the caller must know it is stale. A path too long
    for a Unix socket address is replaced by one in a new private temporary directory.
    """
    temporary = len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH
    if temporary:
        socket_path = Path(tempfile.mkdtemp(prefix="rag-chatbot-")) / socket_path.name
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    previous = {name: os.environ.get(name) for name in (SOCKET_ENV, AUTHKEY_ENV)}
    try:
        with VectorStoreServer(store, str(socket_path), bytes.fromhex(key)) as server:
            os.environ[SOCKET_ENV], os.environ[AUTHKEY_ENV] = str(socket_path), key
            yield server
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if temporary:
            with suppress(OSError):
                socket_path.parent.rmdir()
