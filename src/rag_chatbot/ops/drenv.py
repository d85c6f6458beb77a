"""The scratch deployment a recovery test restores into, and the real server it starts there.

Isolation is the point: the test must never touch the deployment it was run next to.

- Everything lives in a scratch folder (``DATA_DIR``, logs, the server's working directory);
  its database is SQLite there, or ``DR_DATABASE_URL``, which must hold none of our tables
  (``claim_database`` refuses otherwise and only then marks it as ours to clean up).
- Commands run in ``<scratch>/run``: with the backed-up ``.env`` copied there, the restored
  service has the configuration of the backup; the settings that say *where* data lives
  (``DATABASE_URL``, ``QDRANT_URL``, ``REDIS_URL``, ...) are set in the environment, which
  wins over ``.env``, to the scratch values or to empty (unset: embedded index, in-process
  cache). A random JWT secret, no rate limit, anonymous chat.
- The server listens on a free loopback port; its process id is written to
  ``<scratch>/serve.pid`` so the shell script's trap can stop it whatever happens here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rag_chatbot.errors import InvalidInput
from rag_chatbot.ops.dbfiles import drop_statements, engine_for

# Where data lives: pointed at the scratch environment, or emptied (empty = unset).
LOCATIONS = ("DATABASE_URL", "QDRANT_URL", "QDRANT_API_KEY", "REDIS_URL", "BROKER_URL")
# Inherited plumbing of a parent server that must not leak into ours.
DROPPED = (
    "PROMETHEUS_MULTIPROC_DIR",
    "METRICS_TEXTFILE_DIR",
    "RAG_CHATBOT_VECTOR_STORE_SOCKET",
    "RAG_CHATBOT_VECTOR_STORE_AUTHKEY",
    "RAG_CHATBOT_CONNECTION_TABLE",
)
CLAIMED = "dr-database-claimed"


class Scratch:
    """The scratch deployment under ``root`` (created by the caller, removed by the script)."""

    def __init__(self, root: Path, database_url: str | None = None) -> None:
        self.root = root
        self.database_url = database_url
        self.run_dir = root / "run"
        self.data_dir = root / "data"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rag-chatbot.db'}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in DROPPED}
        env.update(dict.fromkeys(LOCATIONS, ""))
        env.update(
            DATA_DIR=str(self.data_dir),
            DATABASE_URL=self.database_url or "",
            LOG_DIR=str(self.root / "logs"),
            ENVIRONMENT="test",
            JWT_SECRET_KEY=secrets.token_hex(32),
            ENABLE_RATE_LIMIT="false",
            ALLOW_ANONYMOUS_CHAT="true",
        )
        return env

    def use_config(self, env_file: Path) -> None:
        """Run with the backed-up ``.env`` (its location settings are overridden, see above)."""
        if env_file.is_file():
            shutil.copyfile(env_file, self.run_dir / ".env")

    def rag_chatbot(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        """``rag-chatbot ARGS`` in the scratch environment (this interpreter's installation)."""
        return subprocess.run(
            [sys.executable, "-m", "rag_chatbot", *args],
            cwd=self.run_dir,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def claim_database(self) -> None:
        """Refuse a ``DR_DATABASE_URL`` that holds any table of ours; else mark it for cleanup."""
        if not self.database_url:
            return
        if drop_statements(self.database_url):
            raise InvalidInput(
                "DR_DATABASE_URL holds rag-chatbot tables; the recovery test needs an empty "
                "scratch database (it drops what it creates there afterwards)"
            )
        (self.root / CLAIMED).touch()

    def clean_database(self) -> None:
        """Drop the tables the test created in ``DR_DATABASE_URL`` (only once it was claimed)."""
        if not self.database_url or not (self.root / CLAIMED).exists():
            return
        drop = drop_statements(self.database_url)
        if drop:
            engine = engine_for(self.database_url)
            try:
                with engine.begin() as connection:
                    connection.exec_driver_sql(drop)
            finally:
                engine.dispose()

    def start_server(self, wait_seconds: float = 300) -> str:
        """Start ``rag-chatbot serve`` on a free loopback port; its URL once it is healthy."""
        port = free_port()
        log = (self.root / "serve.log").open("wb")
        command = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "rag_chatbot", *command],
            cwd=self.run_dir,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        (self.root / "serve.pid").write_text(f"{self._process.pid}\n")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        tail = self.server_log_tail()
        self.stop_server()
        raise RuntimeError(f"the server did not become healthy: {tail}")

    def server_log_tail(self) -> str:
        try:
            lines = (self.root / "serve.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else "(no output)"

    def stop_server(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        # Gone: the script's trap must not signal whatever process gets this id next.
        (self.root / "serve.pid").unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
