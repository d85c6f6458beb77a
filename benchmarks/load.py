"""Load test against a real `rag-chatbot serve`: concurrent clients asking the benchmark questions.

    python benchmarks/load.py --data-dir DIR [--clients 32] [--seconds 60] [--workers N]

DIR must already hold the docs-faq corpus (e.g. the data dir `benchmarks/retrieval.py` printed).
The server is started on a free loopback port with that DATA_DIR and stopped at the end. Prints
latency p50/p95/p99, requests/s, error rate and server RSS, then the same for streaming with the
time to the first event. All traffic goes to 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"
PARAPHRASE_PREFIXES = ("", "Please tell me: ", "Quick question. ", "Docs question: ")


def questions(path: Path) -> list[str]:
    base = [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    return [p + q for q in base for p in PARAPHRASE_PREFIXES]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


async def client_loop(
    http: httpx.AsyncClient,
    asks: list[str],
    offset: int,
    until: float,
    stream: bool,
    out: dict[str, list[float]],
) -> None:
    i = offset
    while time.monotonic() < until:
        question = asks[i % len(asks)]
        i += 1
        started = time.perf_counter()
        try:
            if stream:
                async with http.stream(
                    "POST", "/api/chat", json={"message": question, "stream": True}
                ) as r:
                    first = None
                    async for line in r.aiter_lines():
                        if first is None and line.startswith("event:"):
                            first = time.perf_counter() - started
                    ok = r.status_code == 200
                    out["first_event"].append(first or 0.0)
            else:
                r = await http.post("/api/chat", json={"message": question})
                ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        out["latency" if ok else "errors"].append(time.perf_counter() - started)


async def run(
    base: str, asks: list[str], clients: int, seconds: float, stream: bool
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"latency": [], "errors": [], "first_event": []}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(client_loop(http, asks, n * 7, until, stream, out) for n in range(clients))
        )
    return out


def report(name: str, out: dict[str, list[float]], seconds: float, rss_mb: float) -> None:
    ms = [v * 1000 for v in out["latency"]]
    total = len(ms) + len(out["errors"])
    print(
        f"{name}: {total} requests in {seconds:.0f} s = {total / seconds:.1f} requests/s; "
        f"p50 {statistics.median(ms):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
        f"p99 {percentile(ms, 0.99):.0f} ms; errors {len(out['errors'])} "
        f"({100 * len(out['errors']) / max(total, 1):.2f} %); server RSS {rss_mb:.0f} MB"
    )
    if out["first_event"]:
        first = [v * 1000 for v in out["first_event"]]
        p50, p95 = statistics.median(first), percentile(first, 0.95)
        print(f"  time to first event: p50 {p50:.0f} ms, p95 {p95:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stream-seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

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
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        asks = questions(args.queries)
        asyncio.run(run(base, asks, 4, 5, stream=False))  # warm up

        def rss() -> float:
            family = [psutil.Process(server.pid), *psutil.Process(server.pid).children(True)]
            return sum(p.memory_info().rss for p in family) / 2**20

        out = asyncio.run(run(base, asks, args.clients, args.seconds, stream=False))
        report(f"JSON, {args.clients} clients", out, args.seconds, rss())
        out = asyncio.run(run(base, asks, args.clients, args.stream_seconds, stream=True))
        report(f"SSE, {args.clients} clients", out, args.stream_seconds, rss())
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
