"""Start and stop a real `rag-chatbot serve` for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ingest(corpus: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "ingest", str(corpus), "--json"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def start_server(
    root: Path, env: dict[str, str], *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``serve`` on a free port until /api/health answers; its output goes to a file.

    A file, not a pipe: nobody reads the output while a test runs, and a full pipe would block
    the server's logging.
    """
    port = free_port()
    with (root / "serve.out").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "rag_chatbot", "serve", "--port", str(port), *extra],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(process)
    raise AssertionError((root / "serve.out").read_text())


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a service manager would; SIGKILL if it has not exited after 60 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()  # its workers may outlive it then: the caller's checks fail
            process.wait(timeout=30)
    return process.returncode
