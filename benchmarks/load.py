"""Load test against a real `rag-chatbot serve`: concurrent clients asking the benchmark questions.

    python benchmarks/load.py --data-dir DIR [--clients 32] [--seconds 60] [--workers 2]

DIR must already hold the docs-faq corpus (e.g. the data dir `benchmarks/retrieval.py` printed).
The server is started on a free loopback port with that DATA_DIR and the response cache off,
and stopped at the end. Prints latency p50/p95/p99, requests/s, error rate and server RSS, then
the same for streaming (SSE) with the time to the first event and to the first answer text
(``delta``) event. All traffic goes to 127.0.0.1; every loop is bounded in time.

The clients are a small HTTP/1.1 client on asyncio streams and uvloop (keep-alive, one
connection each) rather than httpx: the load generator shares the server's two cores, so it
should take as little of them as it can. Its own CPU per request is printed.
A request counts as answered only with status 200 and an answer: a JSON body holding
``answer``, or an SSE stream ending with an ``answer`` event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from machine import yardstick

try:  # uvicorn[standard] brings it: a lighter event loop leaves more CPU to the server
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"
PARAPHRASE_PREFIXES = ("", "Please tell me: ", "Quick question. ", "Docs question: ")
TIMEOUT = 30.0


def questions(path: Path) -> list[str]:
    base = [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    return [p + q for q in base for p in PARAPHRASE_PREFIXES]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


@dataclass
class Results:
    latency: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_event: list[float] = field(default_factory=list)
    first_text: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    # Latencies by the server process that held the client's connection.
    by_worker: dict[int, list[float]] = field(default_factory=dict)
    # Connections per server process when the clock started and when it stopped.
    connections: dict[int, int] = field(default_factory=dict)
    connections_at_end: dict[int, int] = field(default_factory=dict)


class BadResponse(Exception):
    """The server answered, but not with an answer."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the server (reopened after any failure)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    @property
    def local_port(self) -> int | None:
        return None if self.writer is None else int(self.writer.get_extra_info("sockname")[1])

    async def post(
        self, path: str, body: bytes, on_chunk: Callable[[bytes], None] | None = None
    ) -> tuple[int, bytes]:
        """POST ``body``; the status and the whole body. ``on_chunk(bytes)`` sees chunks as read."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            % (path.encode(), self.host.encode(), self.port, len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            payload = await self._chunked(on_chunk)
        else:
            payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
            if on_chunk is not None:
                on_chunk(payload)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    async def _chunked(self, on_chunk: Callable[[bytes], None] | None) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            chunk = (await self.reader.readexactly(size + 2))[:-2]
            parts.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def ask_json(conn: Connection, question: str) -> None:
    status, payload = await conn.post("/api/chat", json.dumps({"message": question}).encode())
    if status != 200 or "answer" not in json.loads(payload):
        raise BadResponse(f"status {status}")


async def ask_sse(conn: Connection, question: str, started: float, out: Results) -> None:
    """Stream an answer; records the time to the first event and to the first ``delta``."""
    seen: dict[str, float] = {}
    buffer = bytearray()
    events: list[str] = []

    def on_chunk(chunk: bytes) -> None:
        buffer.extend(chunk)
        while b"\n\n" in buffer:
            raw, _, rest = bytes(buffer).partition(b"\n\n")
            buffer[:] = rest
            name = next(
                (ln[6:].strip() for ln in raw.decode().split("\n") if ln.startswith("event:")),
                "message",
            )
            now = time.perf_counter() - started
            seen.setdefault("first", now)
            seen.setdefault(name, now)
            events.append(name)

    body = json.dumps({"message": question, "stream": True}).encode()
    status, _ = await conn.post("/api/chat", body, on_chunk)
    if status != 200 or not events or events[-1] != "answer":
        raise BadResponse(f"status {status}, events {events[-3:]}")
    out.first_event.append(seen["first"])
    # A grounded answer has text (delta events); "can't find" answers have it too.
    out.first_text.append(seen.get("delta", seen["answer"]))


async def client_loop(
    conn: Connection,
    asks: list[str],
    offset: int,
    until: float,
    stream: bool,
    out: Results,
    holders: dict[int, int],
) -> None:
    i = offset
    try:
        while time.monotonic() < until:
            question = asks[i % len(asks)]
            i += 1
            if conn.writer is None:
                await conn.open()  # the server closed it (``Connection: close``): a new one
            holder = holders.get(conn.local_port or 0)
            started = time.perf_counter()
            try:
                if stream:
                    await asyncio.wait_for(ask_sse(conn, question, started, out), TIMEOUT)
                else:
                    await asyncio.wait_for(ask_json(conn, question), TIMEOUT)
            except (
                TimeoutError,
                OSError,
                asyncio.IncompleteReadError,
                ValueError,
                BadResponse,
            ) as exc:
                conn.close()
                out.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            out.latency.append(time.perf_counter() - started)
            if holder is not None:
                out.by_worker.setdefault(holder, []).append(out.latency[-1])
    finally:
        conn.close()


async def run(
    host: str,
    port: int,
    asks: list[str],
    clients: int,
    seconds: float,
    stream: bool,
    server_pid: int | None = None,
) -> Results:
    """``clients`` closed loops for ``seconds``, each on its own keep-alive connection.

    The connections are opened one by one before the clock starts. The kernel hashes each to
    one of the server's workers, so the split can be uneven; the server evens it out by
    closing connections of a worker over its share (``serving/balance.py``), and a client whose
    connection was closed opens a new one. Which worker holds which connection is read once
    a second, and each request's latency is counted to the worker that held its connection.
    """
    out = Results()
    conns = [Connection(host, port) for _ in range(clients)]
    for conn in conns:
        await conn.open()
        await asyncio.sleep(0.005)
    holders = _holders(server_pid, port) if server_pid is not None else {}
    out.connections = _split(holders)
    server_cpu = _cpu_seconds(server_pid) if server_pid is not None else 0.0
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    until = time.monotonic() + seconds

    async def watch() -> None:
        while server_pid is not None and time.monotonic() < until - 1.0:
            await asyncio.sleep(1.0)
            now = _holders(server_pid, port)
            holders.update(now)
            out.connections_at_end = _split(now)

    await asyncio.gather(
        watch(),
        *(
            client_loop(conn, asks, n * 7, until, stream, out, holders)
            for n, conn in enumerate(conns)
        ),
    )
    done = resource.getrusage(resource.RUSAGE_SELF)
    out.cpu_seconds = done.ru_utime + done.ru_stime - cpu.ru_utime - cpu.ru_stime
    if server_pid is not None:
        out.server_cpu_seconds = _cpu_seconds(server_pid) - server_cpu
    return out


def _split(holders: dict[int, int]) -> dict[int, int]:
    """Connections per server process."""
    split: dict[int, int] = {}
    for pid in holders.values():
        split[pid] = split.get(pid, 0) + 1
    return split


def _cpu_seconds(server_pid: int) -> float:
    """CPU time used so far by the server and its children (workers, index process)."""
    server = psutil.Process(server_pid)
    total = 0.0
    for proc in [server, *server.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def _holders(server_pid: int, port: int) -> dict[int, int]:
    """Client port -> pid of the server process that accepted that connection."""
    found: dict[int, int] = {}
    server = psutil.Process(server_pid)
    for proc in [server, *server.children(recursive=True)]:
        for conn in proc.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.raddr:
                found[conn.raddr.port] = proc.pid
    return found


def report(name: str, out: Results, seconds: float, rss_mb: float) -> None:
    ms = [v * 1000 for v in out.latency] or [0.0]
    total = len(out.latency) + len(out.errors)
    print(
        f"{name}: {total} requests in {seconds:.0f} s = {total / seconds:.1f} requests/s; "
        f"p50 {statistics.median(ms):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
        f"p99 {percentile(ms, 0.99):.0f} ms; errors {len(out.errors)} "
        f"({100 * len(out.errors) / max(total, 1):.2f} %); server RSS {rss_mb:.0f} MB"
    )
    if out.first_event:
        for label, values in (
            ("time to first event", out.first_event),
            ("time to first answer text (delta)", out.first_text),
        ):
            values_ms = [v * 1000 for v in values]
            print(
                f"  {label}: p50 {statistics.median(values_ms):.0f} ms, "
                f"p95 {percentile(values_ms, 0.95):.0f} ms"
            )
    if out.by_worker:
        workers = sorted(out.by_worker, key=lambda pid: -out.connections.get(pid, 0))
        split = "; ".join(
            f"{out.connections.get(pid, 0)} -> {out.connections_at_end.get(pid, 0)} connections: "
            f"p50 {statistics.median(out.by_worker[pid]) * 1000:.0f} ms, "
            f"p95 {percentile(out.by_worker[pid], 0.95) * 1000:.0f} ms"
            for pid in workers
        )
        print(f"  by server worker (connections at start -> at end): {split}")
    print(
        f"  CPU per request: server {1000 * out.server_cpu_seconds / max(total, 1):.2f} ms, "
        f"load generator {1000 * out.cpu_seconds / max(total, 1):.2f} ms"
    )
    if out.errors:
        print(f"  first error: {out.errors[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stream-seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="serve --workers (2 cores: 2)")
    args = parser.parse_args()
    print(yardstick())  # before the server starts: the cores are idle

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DATA_DIR": str(args.data_dir),
        "ENABLE_RESPONSE_CACHE": "false",  # every question answered (cache_load.py: cached)
        "RATE_LIMIT_CHAT": "100000000/minute",  # counted, never reached: one client IP asks all
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag_chatbot",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = "127.0.0.1"
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        wait_healthy(host, port, server)
        asks = questions(args.queries)
        asyncio.run(run(host, port, asks, 4, 5, stream=False))  # warm up

        def rss() -> float:
            family = [psutil.Process(server.pid), *psutil.Process(server.pid).children(True)]
            return float(sum(p.memory_info().rss for p in family) / 2**20)

        out = asyncio.run(
            run(host, port, asks, args.clients, args.seconds, stream=False, server_pid=server.pid)
        )
        report(f"JSON, {args.clients} clients", out, args.seconds, rss())
        out = asyncio.run(
            run(host, port, asks, args.clients, args.stream_seconds, True, server.pid)
        )
        report(f"SSE, {args.clients} clients", out, args.stream_seconds, rss())
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_healthy(host: str, port: int, server: subprocess.Popen[bytes]) -> None:
    """Until GET /api/health answers 200 (at most 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy in 60 s")


if __name__ == "__main__":
    main()
