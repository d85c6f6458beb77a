"""The workers' connection table, and the rule that sheds a connection (serving/balance.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from rag_chatbot.serving.balance import (
    TABLE_ENV,
    BalancedHttpProtocol,
    Balancer,
    ConnectionTable,
    _balancer,
    over_share,
)


@pytest.mark.parametrize(
    ("mine", "counts", "expected"),
    [
        (17, [17, 15], True),  # 32 over two: a share is 16
        (16, [16, 16], False),
        (17, [17, 16], False),  # 33 over two: a share is 17 (rounded up)
        (18, [18, 15], True),
        (20, [20], False),  # alone: nowhere to send a connection
        (12, [12, 10, 10], True),  # 32 over three: a share is 11
        (0, [0, 0], False),
    ],
)
def test_over_share(mine: int, counts: list[int], expected: bool) -> None:
    assert over_share(mine, counts) is expected


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_slots_are_claimed_published_and_read_back(tmp_path: Path) -> None:
    table = ConnectionTable.create(tmp_path / "table", 4)
    other = ConnectionTable(table.path)  # another worker maps the same file

    mine, parent = table.claim(os.getpid()), other.claim(os.getppid())
    table.publish(mine, 7)
    other.publish(parent, 3)

    assert mine != parent
    assert sorted(table.counts()) == sorted(other.counts()) == [3, 7]
    other.release(parent)
    assert table.counts() == [7]


def test_a_dead_workers_slot_is_not_counted_and_is_reused(tmp_path: Path) -> None:
    table = ConnectionTable.create(tmp_path / "table", 2)
    live = table.claim(os.getpid())
    table.publish(live, 4)
    gone = table.claim(_dead_pid())
    table.publish(gone, 25)

    assert table.counts() == [4]  # the dead worker's 25 connections are not in the share
    assert table.claim(os.getppid()) == gone  # its replacement takes the slot


def test_a_full_table_says_so(tmp_path: Path) -> None:
    table = ConnectionTable.create(tmp_path / "table", 1)
    table.claim(os.getpid())

    with pytest.raises(RuntimeError, match="no free slot"):
        table.claim(os.getppid())


def test_the_busier_worker_sheds_down_to_its_share_and_no_further(tmp_path: Path) -> None:
    path = tmp_path / "table"
    ConnectionTable.create(path, 4)
    busy = Balancer(ConnectionTable(path), os.getpid())
    quiet = Balancer(ConnectionTable(path), os.getppid())
    for _ in range(20):
        busy.opened()
    for _ in range(12):
        quiet.opened()

    # Every held connection makes a request: only the four beyond the share of 16 are shed.
    shed = [busy.should_shed() for _ in range(20)]
    assert shed.count(True) == 4
    assert not any(quiet.should_shed() for _ in range(12))

    # The shed connections close; their clients come back, two to each worker.
    for _ in range(4):
        busy.closed(leaving=True)
    busy.opened(), busy.opened(), quiet.opened(), quiet.opened()
    assert sum(busy.should_shed() for _ in range(18)) == 2  # 18 + 14: a share is 16


def test_a_worker_without_its_table_serves_unbalanced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TABLE_ENV, str(tmp_path / "removed-while-running"))
    _balancer.cache_clear()
    try:
        assert _balancer() is None  # connections are served; none is ever shed
    finally:
        _balancer.cache_clear()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request with 200; accepts a WebSocket and holds it until the client goes."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    return head.lower()


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_protocol_counts_connections_and_closes_one_over_the_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = ConnectionTable.create(tmp_path / "table", 4)
    table.publish(table.claim(os.getppid()), 0)  # another worker, holding no connection
    monkeypatch.setenv(TABLE_ENV, str(table.path))
    _balancer.cache_clear()
    config = uvicorn.Config(
        _app, port=0, http=BalancedHttpProtocol, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started)
        port = server.servers[0].sockets[0].getsockname()[1]
        request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        first, second = (socket.create_connection(("127.0.0.1", port)) for _ in range(2))
        _wait_for(lambda: sorted(table.counts()) == [0, 2])

        first.sendall(request)  # 2 held against a share of 1: this one is let go
        assert b"\r\nconnection: close\r\n" in _head(first)
        _wait_for(lambda: sorted(table.counts()) == [0, 1])
        second.sendall(request)  # 1 held, a share of 1: kept
        assert b"connection: close" not in _head(second)

        upgraded = socket.create_connection(("127.0.0.1", port))
        _wait_for(lambda: sorted(table.counts()) == [0, 2])
        upgraded.sendall(
            b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert _head(upgraded).startswith(b"http/1.1 101")
        # A WebSocket is out of the HTTP count (its end is never reported to it).
        _wait_for(lambda: sorted(table.counts()) == [0, 1])
        for sock in (first, second, upgraded):
            sock.close()
        _wait_for(lambda: sorted(table.counts()) == [0, 0])
    finally:
        server.should_exit = True
        thread.join(10)
        _balancer.cache_clear()


def test_a_worker_that_exits_frees_its_slot(tmp_path: Path) -> None:
    table = ConnectionTable.create(tmp_path / "table", 2)
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from rag_chatbot.serving.balance import Balancer, ConnectionTable\n"
        "Balancer(ConnectionTable(Path(sys.argv[1])), os.getpid()).opened()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(table.path)], check=True)

    assert table.path.read_bytes() == bytes(len(table.path.read_bytes()))  # both slots free
