"""``share_with_workers``: serve a store to the processes started while it is open."""

from __future__ import annotations

import json
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
# Beside the requested socket path: where the index is served and its key, for processes
# started apart from the server (``rag-chatbot worker``); readable by its owner only.
ANNOUNCEMENT = "vector-store.json"


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
    directory. The address and key are also written, for the owner alone, to ``ANNOUNCEMENT``
    in ``socket_path``'s directory (``announced`` reads it), and removed at the end.
    """
    announcement = socket_path.parent / ANNOUNCEMENT
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
            _announce(announcement, server.address, key)
            yield server
    finally:
        announcement.unlink(missing_ok=True)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if temporary:
            with suppress(OSError):
                socket_path.parent.rmdir()


def _announce(path: Path, address: str, key: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"address": address, "authkey": key}, file)
    partial.replace(path)


def announced(directory: Path) -> tuple[str, bytes] | None:
    """The address and key of the index a process serves from ``directory`` (see
    ``share_with_workers``), or None when none is announced there."""
    try:
        found = json.loads((directory / ANNOUNCEMENT).read_text())
        return str(found["address"]), bytes.fromhex(str(found["authkey"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
