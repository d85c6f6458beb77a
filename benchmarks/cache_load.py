"""Cached-answer throughput and the per-request cost of auth + rate limiting, measured with wrk.

    python benchmarks/cache_load.py --data-dir DIR [--workers 2] [--connections N [N ...]]
        [--seconds 20] [--redis URL]

DIR must hold an index (e.g. of ../shared/eval/docs-faq/corpus; any index works: a cached
answer does not search). A `rag-chatbot serve` is started on a free loopback port with the
response cache on (in Redis when --redis is given), the benchmark questions are asked once to
warm the cache, then Debian's `wrk` drives POST /api/chat with them:

1. throughput: --connections concurrent clients (one run for each number given), anonymous
   readers (X-Client-Token), rate limits on; every request is a cache hit that is still
   stored in the session history (a new session each: the first question of a conversation);
2. auth + rate-limit cost: one connection (no queueing), p50 of the same cached question
   (a) anonymous with rate limits off, then (b) logged in (bearer JWT, login session checked
   in the store) with rate limits on — the difference is what auth and limits add.

wrk runs on the same two cores as the server, so the figures include its own CPU use.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"
HIGH = "100000000/minute"  # limits that are counted but never reached
_RESULT = re.compile(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)")

LUA = """
local questions = {QUESTIONS}
local headers = {HEADERS}
local i = 0
request = function()
  i = i + 1
  local body = '{"message": ' .. questions[(i % #questions) + 1] .. '}'
  return wrk.format("POST", "/api/chat", headers, body)
end
local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %.1f %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def lua_script(asks: list[str], headers: dict[str, str]) -> str:
    quoted = ", ".join(json.dumps(json.dumps(q)) for q in asks)  # Lua strings holding JSON
    header_items = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    return LUA.replace("{QUESTIONS}", "{" + quoted + "}").replace(
        "{HEADERS}", "{" + header_items + "}"
    )


def wrk(base: str, script: str, connections: int, seconds: float) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", handle.name, base],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    found = _RESULT.search(out)
    if not found:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, micros, p50, p95, p99, errors = found.groups()
    return {
        "requests": int(requests),
        "rps": int(requests) / (int(micros) / 1e6),
        "p50_ms": float(p50) / 1000,
        "p95_ms": float(p95) / 1000,
        "p99_ms": float(p99) / 1000,
        "errors": int(errors),
    }


class Server:
    def __init__(self, data_dir: Path, workers: int, env: dict[str, str]) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        full = {**os.environ, "DATA_DIR": str(data_dir), **env}
        command = [sys.executable, "-m", "rag_chatbot", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def warm(base: str, asks: list[str], headers: dict[str, str]) -> None:
    with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
        for question in asks:
            http.post("/api/chat", json={"message": question}).raise_for_status()
        # Both workers must have answered each question once for the in-process cache.
        for question in asks * 3:
            assert http.post("/api/chat", json={"message": question}).status_code == 200


def login_token(base: str) -> str:
    name, password = f"bench{secrets.randbelow(10**9)}", secrets.token_urlsafe(16)
    with httpx.Client(base_url=base, timeout=30) as http:
        http.post("/api/auth/register", json={"username": name, "password": password})
        tokens = http.post("/api/auth/login", json={"username": name, "password": password})
        tokens.raise_for_status()
        return str(tokens.json()["access_token"])


def show(name: str, result: dict[str, float]) -> None:
    print(
        f"{name}: {result['requests']} requests, {result['rps']:.0f} requests/s; "
        f"p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms; errors {result['errors']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[8], help="one run per number given"
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--redis", help="REDIS_URL for the cache, limits and logins")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    asks = [json.loads(line)["question"] for line in args.queries.read_text().splitlines() if line]
    env = {
        "ENABLE_RESPONSE_CACHE": "true",
        "RATE_LIMIT_CHAT": HIGH,
        "RATE_LIMIT_DEFAULT": HIGH,
        "RATE_LIMIT_AUTH": HIGH,
        "REDIS_KEY_PREFIX": f"bench-{secrets.token_hex(4)}:",
    }
    if args.redis:
        env["REDIS_URL"] = args.redis
    anonymous = {"Content-Type": "application/json", "X-Client-Token": secrets.token_urlsafe(24)}
    print(f"cache in {'redis' if args.redis else 'each process'}, {args.workers} workers")

    server = Server(args.data_dir, args.workers, env)
    try:
        warm(server.base, asks, anonymous)
        for connections in args.connections:
            show(
                f"cached, {connections} connections, rate limits on",
                wrk(server.base, lua_script(asks, anonymous), connections, args.seconds),
            )
        token = login_token(server.base)
        authed = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        with_auth = wrk(server.base, lua_script(asks, authed), 1, args.seconds / 2)
    finally:
        server.stop()
    server = Server(args.data_dir, args.workers, {**env, "ENABLE_RATE_LIMIT": "false"})
    try:
        warm(server.base, asks, anonymous)
        plain = wrk(server.base, lua_script(asks, anonymous), 1, args.seconds / 2)
    finally:
        server.stop()
    show("1 connection, anonymous, no rate limits", plain)
    show("1 connection, bearer JWT + rate limits", with_auth)
    cost = with_auth["p50_ms"] - plain["p50_ms"]
    print(f"auth + rate limiting cost (p50 difference): {cost:.2f} ms")


if __name__ == "__main__":
    main()
