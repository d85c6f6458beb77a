"""Several uvicorn workers, each listening on its own ``SO_REUSEPORT`` socket.

uvicorn's ``workers=N`` shares one listening socket and whichever worker wakes first accepts.
Keep-alive connections then split unevenly: 32 clients fell 16/16 to 26/6 on two workers, and
the busier worker's clients waited up to twice as long (``benchmarks/load.py`` prints the
split). With one socket per worker, all bound to the port with ``SO_REUSEPORT``, the kernel
hands each new connection to a worker by a hash of its addresses, which spreads them evenly on
average whatever the workers are doing.

uvicorn's supervisor (restarts, signals, health checks) is kept: it only asks for the sockets
of each worker it starts, so it gets a fresh one each time. The parent closes its copy once
the worker has started (the child inherited the descriptor at spawn); a socket nobody accepts
on would still be handed its share of connections.

A hash is even on average only, so the workers also share a table of the connections each
holds, and a worker over its share closes one after its next response (``serving.balance``).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from pathlib import Path

from uvicorn import Config
from uvicorn.supervisors.multiprocess import Multiprocess

from rag_chatbot.serving.balance import TABLE_ENV, BalancedHttpProtocol, ConnectionTable

log = logging.getLogger(__name__)


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


class ReusePortWorkers(Multiprocess):
    """``Multiprocess`` whose every worker gets its own listening socket on the same port."""

    def __init__(self, config: Config) -> None:
        self._handed_over: list[socket.socket] = []
        first = _listening_socket(config.host, config.port)
        self._port = int(first.getsockname()[1])  # a fixed port even when asked for port 0
        self._handed_over.append(first)
        self._first: socket.socket | None = first
        # Set before the workers are spawned: they inherit the environment and the protocol.
        self._table_dir = tempfile.TemporaryDirectory(prefix="rag-chatbot-workers-")
        # Twice the workers: a replacement starts before the worker it replaces has gone.
        path = Path(self._table_dir.name) / "connections"
        table = ConnectionTable.create(path, 2 * config.workers)
        os.environ[TABLE_ENV] = str(table.path)
        config.http = BalancedHttpProtocol
        super().__init__(config, sockets=[])
        log.info("listening on %s:%d, %d workers", config.host, self._port, config.workers)

    @property
    def sockets(self) -> list[socket.socket]:
        """A socket for the worker about to start (uvicorn reads this once per worker)."""
        if self._first is not None:
            sock, self._first = self._first, None
            return [sock]
        sock = _listening_socket(self.config.host, self._port)
        self._handed_over.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        """Ignored: uvicorn's constructor stores its list; ours are made per worker."""

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._table_dir.cleanup()

    def init_processes(self) -> None:
        super().init_processes()
        self._close_handed_over()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._close_handed_over()

    def restart_all(self) -> None:
        super().restart_all()
        self._close_handed_over()

    def _close_handed_over(self) -> None:
        # Every socket made so far belongs to a started worker now: uvicorn starts each
        # worker right after asking for its sockets.
        while self._handed_over:
            self._handed_over.pop().close()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
