"""``SharedVectorStore``: the ``VectorStore`` a worker process uses, served by another process."""

from __future__ import annotations

import os
import queue
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection
from typing import Any, cast

from rag_chatbot import errors
from rag_chatbot.domain import Chunk, IndexedChunk, SparseVector
from rag_chatbot.errors import ProviderError, ProviderTimeout, ProviderUnavailable

# Where a worker finds the store its parent serves (set by ``workers.share_with_workers``).
SOCKET_ENV = "RAG_CHATBOT_VECTOR_STORE_SOCKET"
AUTHKEY_ENV = "RAG_CHATBOT_VECTOR_STORE_AUTHKEY"

# Building HNSW on a large index takes minutes (holding the server's GIL): no call timeout.
_UNTIMED = frozenset({"optimize"})


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

    def chunks(self, chunk_ids: Collection[str]) -> dict[str, Chunk]:
        return cast(dict[str, Chunk], self._call("chunks", list(chunk_ids)))

    def ids(self) -> set[str]:
        return cast(set[str], self._call("ids"))

    def count(self) -> int:
        return cast(int, self._call("count"))

    def optimize(self) -> None:
        self._call("optimize")

    def run(self, procedure: str, *args: object) -> object:
        """What the server's ``procedure(store, *args)`` returns (see ``VectorStoreServer``).

        Raises as the store's methods do; a name the server was not given raises
        ``ProviderError``.
        """
        return self._call(procedure, *args)

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
