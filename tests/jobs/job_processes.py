"""Real processes for the job tests: `rag-chatbot serve` holding the embedded index and
`rag-chatbot worker` processes sharing it, on one PostgreSQL database and one broker queue."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
ENDED = ("done", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(root: Path, database_url: str, broker_url: str, queue: str) -> dict[str, str]:
    """The settings every process of one deployment shares (one model thread each)."""
    return {
        **os.environ,
        "DATA_DIR": str(root / "data"),
        "DATABASE_URL": database_url,
        "BROKER_URL": broker_url,
        "JOB_QUEUE": queue,
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "EMBEDDING_THREADS": "1",
        "WORKER_METRICS_PORT": "0",
        "LOG_FORMAT": "text",
    }


@dataclass
class Deployment:
    """One `serve` and its workers; ``stop`` ends them all (SIGTERM, then SIGKILL)."""

    root: Path
    env: dict[str, str]
    base: str = ""
    server: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def serve(self) -> None:
        port = free_port()
        self.server = self._spawn("serve.log", "serve", "--port", str(port))
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.server.poll() is None:
            try:
                if httpx.get(f"{self.base}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError((self.root / "serve.log").read_text()[-4000:])

    def worker(self, *extra: str) -> subprocess.Popen[bytes]:
        """Start a worker and wait until it consumes (its log says so)."""
        name = f"worker-{len(self.workers)}.log"
        process = self._spawn(name, "worker", *extra)
        self.workers.append(process)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            if "worker started" in (self.root / name).read_text():
                return process
            time.sleep(0.3)
        raise AssertionError((self.root / name).read_text()[-4000:])

    def log(self, process: subprocess.Popen[bytes]) -> str:
        index = self.workers.index(process)
        return (self.root / f"worker-{index}.log").read_text()

    def _spawn(self, log: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("wb") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "rag_chatbot", *args],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )

    def submit(self, body: dict[str, Any]) -> str:
        response = httpx.post(f"{self.base}/api/jobs", json=body, headers=ADMIN, timeout=60)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.base}/api/jobs/{job_id}", headers=ADMIN, timeout=60)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def wait(self, job_id: str, timeout: float, until: str = "ended") -> dict[str, Any]:
        """Poll the job until it has ended (or, ``until="working"``, done a document)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["state"] in ENDED or (until == "working" and job["documents_done"] >= 1):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job not {until} after {timeout} s: {job}")
            time.sleep(0.5)

    def search(self, query: str) -> list[dict[str, Any]]:
        response = httpx.post(f"{self.base}/api/search", json={"query": query}, timeout=60)
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def stop(self) -> None:
        for process in [*self.workers, self.server]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, self.server]:
            if process is not None:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)


@dataclass
class RedisServer:
    """A redis-server of the test's own, without persistence: a restart forgets everything."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=1).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
