"""Keep-alive connections spread evenly over the workers of ``serve --workers N``.

Each worker listens on its own ``SO_REUSEPORT`` socket and the kernel hands it new connections
by a hash of their addresses (``serving.workers``). That is even on average only: 32 connections
still fall 20/12 or worse about one time in five, and a keep-alive connection stays with the
worker it landed on however busy that worker is, so the clients of the busier worker wait
longest.

So the workers share a small table (a file mapped into memory, one slot per worker: its pid
and the connections it holds). A worker holding more than its share — the total over the
live workers, rounded up — answers the next request on one of its connections with
``Connection: close``, and the client's next connection is hashed anew. nginx's
``keepalive_requests`` closes a connection after a fixed number of requests; here one is
closed only where and when that evens the load. HTTP/1.1 clients reconnect on
``Connection: close``; nothing else changes for them.
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import logging
import math
import mmap
import os
import struct
from functools import cache
from pathlib import Path

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
TABLE_ENV = "RAG_CHATBOT_CONNECTION_TABLE"
_SLOT = struct.Struct("qq")  # pid, connections held


class ConnectionTable:
    """Per-worker connection counts in a file every worker maps into memory.

    Contract: ``create(path, slots)`` makes an empty table; ``claim(pid)`` gives a process a
    slot (a free one, or one whose process is gone); ``publish`` and ``release`` write only
    that slot; ``counts()`` lists the counts of the slots whose process is alive. A slot is
    written with one store, so a reader sees an old count or a new one, never a mix that
    matters: the counts steer a heuristic, not an invariant.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("r+b") as handle:
            self._map = mmap.mmap(handle.fileno(), 0)
        self.slots = len(self._map) // _SLOT.size

    @classmethod
    def create(cls, path: Path, slots: int) -> ConnectionTable:
        path.write_bytes(bytes(_SLOT.size * slots))
        return cls(path)

    def claim(self, pid: int) -> int:
        """Index of the slot now owned by ``pid``; ``RuntimeError`` when every slot is taken."""
        with self.path.open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two workers starting together take two slots
            for index in range(self.slots):
                owner, _ = _SLOT.unpack_from(self._map, index * _SLOT.size)
                if owner == 0 or not _alive(owner):
                    _SLOT.pack_into(self._map, index * _SLOT.size, pid, 0)
                    return index
        raise RuntimeError(f"no free slot in the connection table {self.path}")

    def publish(self, index: int, connections: int) -> None:
        struct.pack_into("q", self._map, index * _SLOT.size + 8, connections)

    def release(self, index: int) -> None:
        _SLOT.pack_into(self._map, index * _SLOT.size, 0, 0)

    def counts(self) -> list[int]:
        found = []
        for index in range(self.slots):
            owner, connections = _SLOT.unpack_from(self._map, index * _SLOT.size)
            if owner != 0 and (owner == os.getpid() or _alive(owner)):
                found.append(connections)
        return found


def over_share(mine: int, counts: list[int]) -> bool:
    """True when a worker holding ``mine`` connections holds more than its even share.

    ``counts`` are every live worker's counts, this one's included.
    """
    return len(counts) > 1 and mine > math.ceil(sum(counts) / len(counts))


class Balancer:
    """This worker's side: counts its connections and says when one should go.

    The table holds every open connection, those already told to close included: their
    clients come back, so they are part of the load to share out. Only connections not told
    to close yet count as this worker's when it compares itself with its share.
    """

    def __init__(self, table: ConnectionTable, pid: int) -> None:
        self._table = table
        self._slot = table.claim(pid)
        self._open = 0
        self._leaving = 0
        # A worker that stops cleanly frees its slot; one killed leaves it to be reclaimed.
        atexit.register(table.release, self._slot)

    def opened(self) -> None:
        self._open += 1
        self._table.publish(self._slot, self._open)

    def closed(self, *, leaving: bool) -> None:
        self._open -= 1
        self._leaving -= leaving
        self._table.publish(self._slot, self._open)

    def should_shed(self) -> bool:
        """True (the connection then counts as leaving) when this worker holds too many."""
        if not over_share(self._open - self._leaving, self._table.counts()):
            return False
        self._leaving += 1
        return True


@cache
def _balancer() -> Balancer | None:
    """This process's balancer, when the serving process made a table (``TABLE_ENV``)."""
    path = os.environ.get(TABLE_ENV)
    if not path:
        return None
    try:
        return Balancer(ConnectionTable(Path(path)), os.getpid())
    except (OSError, ValueError, RuntimeError) as exc:  # serve without balancing, not fail
        log.warning("connection_balancing_off", extra={"reason": str(exc)})
        return None


class BalancedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a keep-alive connection when its worker has too many.

    Setting the request cycle's ``keep_alive`` to false before the response starts makes
    uvicorn send ``Connection: close`` and close the connection once the response is sent.
    """

    _counted = False  # this connection is in the worker's count
    _leaving = False  # and was told to close

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if (balancer := _balancer()) is not None:
            balancer.opened()
            self._counted = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._uncount()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over and reports its end to no one here.
        self._uncount()
        super().handle_websocket_upgrade()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if (
            cycle is None
            or cycle.response_started
            or not cycle.keep_alive
            or not self._counted
            or self._leaving
            or (balancer := _balancer()) is None
        ):
            return
        if balancer.should_shed():
            self._leaving = True
            cycle.keep_alive = False

    def _uncount(self) -> None:
        if self._counted and (balancer := _balancer()) is not None:
            balancer.closed(leaving=self._leaving)
        self._counted = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
