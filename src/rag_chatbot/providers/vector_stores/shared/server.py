"""``VectorStoreServer``: a store's methods, and procedures over it, served at a Unix socket.

Threads, measured with qdrant-edge-py 0.9: 2 threads upserting, deleting and optimizing while 2
search one shard for 15 s gave no error and every point after reopen, so the shard is safe to
share. Its calls hold the GIL (an ``optimize`` of 30k points froze the process's other threads
for its 11 s): a thread a connection keeps clients from queueing behind one another's replies,
not searches parallel. Writes take a lock anyway, as the Qdrant server serializes updates.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from multiprocessing import AuthenticationError
from multiprocessing.connection import (
    Connection,
    Listener,
    answer_challenge,
    deliver_challenge,
)
from pathlib import Path
from typing import Any

from rag_chatbot import errors
from rag_chatbot.providers.vector_stores.base import VectorStore

_WRITES = frozenset({"upsert", "delete", "optimize"})
_READS = frozenset({"score_dense", "score_sparse", "chunks", "ids", "count"})  # close: the owner's
_JOIN_SECONDS = 10.0

# A function of the store and the call's arguments, run where the index is.
Procedure = Callable[..., object]

log = logging.getLogger(__name__)


class VectorStoreServer:
    """Serves ``store``'s methods (all but ``close``: the owner closes it) at a Unix socket.

    ``procedures`` are served too, each by its ``__name__``: a call runs
    ``procedure(store, *args)`` without the write lock, so give only functions that read.

    Contract: ``start()`` binds ``address`` (a path; a file already there is replaced, so the
    caller must know it is stale) and accepts clients in a daemon thread, each connection
    served by its own thread after the authkey handshake. Store errors go back to the client
    as replies, never end the connection. ``stop()`` stops accepting, shuts every connection
    (clients then see the server gone at once), joins the threads and removes the socket
    file; it is idempotent. Usable as a context manager (start on enter, stop on exit).
    """

    def __init__(
        self,
        store: VectorStore,
        address: str,
        authkey: bytes,
        procedures: Sequence[Procedure] = (),
    ) -> None:
        self.address = address
        self._store = store
        self._procedures = {procedure.__name__: procedure for procedure in procedures}
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
            if method in _WRITES:
                with self._write_lock:
                    return ("ok", getattr(self._store, method)(*args, **kwargs))
            if method in _READS:
                return ("ok", getattr(self._store, method)(*args, **kwargs))
            if method in self._procedures:
                return ("ok", self._procedures[method](self._store, *args, **kwargs))
            raise ValueError(f"unknown vector store method {method!r}")
        except Exception as exc:
            if not isinstance(exc, errors.RagChatbotError):
                log.exception("vector store server: unexpected error")
            return ("error", type(exc).__name__, str(exc))


def _shut(conn: Connection) -> None:
    """Wake a thread blocked reading ``conn``: closing the descriptor would not."""
    with suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.shutdown(socket.SHUT_RDWR)
