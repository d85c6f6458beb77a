"""``share_with_workers``: serve a store to the processes started while it is open."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.shared.client import AUTHKEY_ENV, SOCKET_ENV
from rag_chatbot.providers.vector_stores.shared.server import Procedure, VectorStoreServer

# Longest path a Linux AF_UNIX address holds (108 bytes with the terminating NUL).
_MAX_SOCKET_PATH = 107


@contextmanager
def share_with_workers(
    store: VectorStore, socket_path: Path, procedures: Sequence[Procedure] = ()
) -> Iterator[VectorStoreServer]:
    """Serve ``store`` at ``socket_path`` and tell the processes started meanwhile where it is.

    Sets ``SOCKET_ENV`` and ``AUTHKEY_ENV`` (a fresh random key, hex) in ``os.environ`` for the
    block, so child processes (uvicorn's workers) inherit them and
    ``SharedVectorStore.from_environment`` finds the store, served with ``procedures`` (see
    ``VectorStoreServer``); at the end restores both, stops the server and removes the socket
    file. A file already at ``socket_path`` is replaced: the caller must know it is stale. A
    path too long for a Unix socket address is replaced by one in a new private temporary
    directory.
    """
    temporary = len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH
    if temporary:
        socket_path = Path(tempfile.mkdtemp(prefix="rag-chatbot-")) / socket_path.name
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    previous = {name: os.environ.get(name) for name in (SOCKET_ENV, AUTHKEY_ENV)}
    try:
        server = VectorStoreServer(store, str(socket_path), bytes.fromhex(key), procedures)
        with server:
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
