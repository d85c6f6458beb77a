"""`rag-chatbot serve --workers 2` without a Qdrant server: the parent shares the embedded index.

Which worker answered a request is read from the access log: every line carries the ``pid`` of
the process that wrote it, and the request id the test sent.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import httpx
import psutil
import pytest
from servers import ingest, start_server, stop
from testing_secrets import TEST_ADMIN_TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FOG = "When does the fog horn sound?"
FOG_URL = "/read/lighthouse.md#fog-signals"
LENS = "How often is the Fresnel lens cleaned?"
LENS_URL = "/read/lighthouse.md#lamp-maintenance"
HARBOUR = (
    "# Harbour notes\n\n## Tide tables\n\n"
    "The harbour master keeps the tide tables rolled up in a brass cylinder by the quay door.\n"
)
# Greedy: a route template in the labels has braces too (/api/sessions/{session_id}).
_REQUESTS_LINE = re.compile(r"^http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$", re.M)
# Each fresh connection lets the kernel hand the request to either worker; some rounds may
# all land on one, so a check that both answered sends up to this many rounds.
_ROUNDS = 6


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    logs: Path
    socket_path: Path
    sent: int = 0  # requests answered (not counting metrics scrapes)
    _ids: Iterator[int] = field(default_factory=count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """One request on a new connection, with a request id to find it in the access log."""
        request_id = f"t-{next(self._ids)}"
        response = httpx.request(
            method,
            self.base + path,
            headers={"X-Request-ID": request_id, "Authorization": f"Bearer {TEST_ADMIN_TOKEN}"},
            timeout=60,
            **kwargs,  # type: ignore[arg-type]
        )
        if path != "/api/metrics":
            with self._lock:  # requests are sent from several threads
                self.sent += 1
        return response

    def pids(self, responses: list[httpx.Response]) -> set[int]:
        """The worker pids that answered ``responses``, from the access log."""
        return set(self.pid_by_request({r.headers["X-Request-ID"] for r in responses}).values())

    def pid_by_request(self, wanted: set[str]) -> dict[str, int]:
        """Request id -> pid of the worker that answered it, from the access log."""
        deadline = time.monotonic() + 10
        while True:  # a request is logged just after its response is sent
            lines = (self.logs / "access.log").read_text().splitlines()
            found = {e["request_id"]: e["pid"] for e in map(json.loads, lines)}
            if wanted <= found.keys() or time.monotonic() > deadline:
                return {w: found[w] for w in wanted if w in found}
            time.sleep(0.1)


def concurrently(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda call: call(), calls))


def until_both_workers_answer(
    server: Server, make_calls: Callable[[], list[Callable[[], httpx.Response]]]
) -> list[httpx.Response]:
    """Send rounds of ``make_calls()`` until the responses came from two processes."""
    responses: list[httpx.Response] = []
    for _ in range(_ROUNDS):
        responses += concurrently(make_calls())
        if len(server.pids(responses)) == 2:
            break
    return responses


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("workers")
    data = root / "data"
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "LOG_DIR": str(root / "logs"),
        "LOG_FORMAT": "json",  # the access log's "pid" tells which worker answered
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,  # uploads are the operator's
        "RATE_LIMIT_CHAT": "100000/minute",  # the limits have tests of their own
        "RATE_LIMIT_DEFAULT": "100000/minute",
    }
    ingest(fixture_corpus, env)
    process, base = start_server(root, env, "--workers", "2")
    running = Server(base, process, root / "logs", data.resolve() / "run" / "vector-store.sock")
    running.sent += 1  # the health check start_server made
    yield running
    stop(process)  # the last test stops it; this is for a failure before that


def test_both_workers_answer_from_the_shared_index(server: Server) -> None:
    def calls() -> list[Callable[[], httpx.Response]]:
        round_: list[Callable[[], httpx.Response]] = []
        for _ in range(2):
            round_ += [
                lambda: server.request("POST", "/api/chat", json={"message": FOG}),
                lambda: server.request("POST", "/api/chat", json={"message": LENS}),
                lambda: server.request("POST", "/api/search", json={"query": "compost heap"}),
                lambda: server.request("POST", "/api/search", json={"query": FOG, "top_k": 3}),
                lambda: server.request("GET", "/api/sessions/x"),
            ]
        return round_

    responses = concurrently(calls() * 4)  # 40 requests
    responses += until_both_workers_answer(server, calls)

    assert len(server.pids(responses)) == 2
    for response in responses:
        body = response.json()
        path = response.request.url.path
        if path == "/api/sessions/x":
            assert response.status_code == 404
            continue
        assert response.status_code == 200, body
        if path == "/api/chat":
            expected = FOG_URL if "fog" in response.request.content.decode() else LENS_URL
            assert body["grounded"] is True
            assert body["citations"][0]["url"] == expected
        else:
            assert body["results"], body
    assert server.process.poll() is None


def _requests_total(text: str) -> float:
    """Sum of ``http_requests_total`` over every label set but the metrics route's own."""
    return sum(
        float(match["value"])
        for match in _REQUESTS_LINE.finditer(text)
        if 'path="/api/metrics"' not in match["labels"]
    )


def test_every_worker_reports_the_same_request_total(server: Server) -> None:
    concurrently([lambda: server.request("GET", "/api/health")] * 10)
    deadline = time.monotonic() + 10
    while True:  # each worker counts a request just after sending its response
        total = _requests_total(server.request("GET", "/api/metrics").text)
        if total >= server.sent or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    scrapes = until_both_workers_answer(
        server, lambda: [lambda: server.request("GET", "/api/metrics")] * 8
    )

    assert len(server.pids(scrapes)) == 2
    totals = {_requests_total(scrape.text) for scrape in scrapes}
    assert totals == {total}
    assert total >= server.sent, scrapes[-1].text


def test_keep_alive_connections_end_up_spread_evenly_over_the_workers(server: Server) -> None:
    # 24 clients, one keep-alive connection each, taking turns. The kernel's hash leaves 12/12
    # about one time in six; a worker over its share answers with ``Connection: close``, the
    # client (httpx, as HTTP/1.1 says) opens a new connection, and the split evens out.
    clients = [httpx.Client(base_url=server.base, timeout=60) for _ in range(24)]
    closed = 0
    try:
        for round_ in range(20):
            last = {}
            for n, client in enumerate(clients):
                request_id = f"spread-{round_}-{n}"
                response = client.get("/api/health", headers={"X-Request-ID": request_id})
                assert response.status_code == 200, response.text
                closed += response.headers.get("connection") == "close"
                last[n] = request_id
    finally:
        for client in clients:
            client.close()

    answered_by = server.pid_by_request(set(last.values()))
    per_worker = sorted(Counter(answered_by[last[n]] for n in last).values())
    assert per_worker == [12, 12], f"{per_worker} after {closed} connections were closed"


def test_an_upload_to_one_worker_is_searchable_from_both(server: Server) -> None:
    uploaded = server.request(
        "POST", "/api/documents", files={"file": ("harbour.md", HARBOUR.encode(), "text/markdown")}
    )
    assert uploaded.status_code == 202, uploaded.text
    document_id = uploaded.json()["id"]
    deadline = time.monotonic() + 60
    while server.request("GET", f"/api/documents/{document_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline, "the upload was never indexed"
        time.sleep(0.2)

    search = {"query": "Where are the tide tables kept?", "top_k": 3}
    hits = until_both_workers_answer(
        server, lambda: [lambda: server.request("POST", "/api/search", json=search)] * 8
    )

    assert len(server.pids(hits)) == 2
    for response in hits:
        assert response.json()["results"][0]["source"] == "harbour.md", response.text


def _listening(process: psutil.Process, port: int) -> set[str]:
    """The listening sockets (as ``socket:[inode]``) ``process`` holds on ``port``."""
    return {
        os.readlink(f"/proc/{process.pid}/fd/{conn.fd}")
        for conn in process.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
    }


def test_each_worker_listens_on_its_own_socket_and_connections_spread(server: Server) -> None:
    port = int(server.base.rsplit(":", 1)[1])
    parent = psutil.Process(server.process.pid)
    workers = {c.pid: _listening(c, port) for c in parent.children(recursive=True)}
    workers = {pid: sockets for pid, sockets in workers.items() if sockets}
    assert len(workers) == 2
    first, second = workers.values()
    assert len(first) == len(second) == 1 and first != second
    # The parent keeps no copy: a socket nobody accepts on would still be given connections.
    assert not _listening(parent, port)

    clients = []
    told_to_close = 0
    try:
        for _ in range(64):  # each connection answered once, then held open
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            assert head.startswith(b"HTTP/1.1 200")
            # A worker over its share closes the connection it answered (serving/balance.py).
            told_to_close += b"\r\nconnection: close\r\n" in head.lower()
            clients.append(client)
        time.sleep(0.5)  # the closed ones are gone from the workers' tables
        held = {
            pid: sum(
                1
                for conn in psutil.Process(pid).net_connections(kind="tcp")
                if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port
            )
            for pid in workers
        }
    finally:
        for client in clients:
            client.close()
    # The kernel picks by a hash of each connection: about 32 each; under 12 of 64 would
    # happen by chance less than once in ten million runs. Connections a worker closed to
    # keep to its share are not held by anyone.
    assert sum(held.values()) + told_to_close == 64, (held, told_to_close)
    assert min(held.values()) >= 12, held
    assert max(held.values()) - min(held.values()) <= 1, held


def test_sigterm_stops_the_workers_and_removes_the_socket(server: Server) -> None:
    assert server.socket_path.is_socket()
    workers = server.pids([server.request("GET", "/api/health") for _ in range(4)])

    assert stop(server.process) == 0

    assert not server.socket_path.exists()
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
