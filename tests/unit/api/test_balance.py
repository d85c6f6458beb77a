"""The connection table the workers share, and the rule that sheds a connection (api/balance.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag_chatbot.api.balance import TABLE_ENV, Balancer, ConnectionTable, _balancer, over_share


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
