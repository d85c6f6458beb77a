"""One deployment for running the operator runbook's commands as written (the seed-runbook tests).

``seed_deployment`` ingests the fixture corpus into a fresh PostgreSQL database, given in the
plain ``postgresql://`` form that ``psql`` and ``pg_dump`` take, starts a Redis server of its
own (so ``FLUSHALL`` wipes nobody else's data) and a real ``rag-chatbot serve``, and yields a
``Seed``. ``Seed.run`` runs a runbook command with bash after ``Seed.as_written``, which makes
the substitutions listed in tests/ops/test_seed_runbook.py's docstring, and only those.
``send_log_traffic`` sends the requests whose log lines the runbook's log commands read.

Commands run in a directory of their own that stands for the operator's checkout: its
``scripts/`` and ``deploy.sh`` are links to the repository's, so ``./scripts/NAME`` runs the
real script while the files a procedure writes (backups, ``backup_20240101_120000.sql``, the
deploy record) land there and not in the repository. The scripts find the service, the
backups and the database through ``RAG_CHATBOT_URL``, ``BACKUP_DIR`` and ``DATABASE_URL`` in
the environment, as an operator configures them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from postgres import fresh_database
from sqlalchemy import Engine
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "When does the fog horn sound?"
SHIPPED_LOGROTATE = ROOT / "deploy" / "logrotate" / "rag-chatbot"
# `tail -f` follows a log for ever; here it stops after this many seconds.
FOLLOW_SECONDS = 3
# The slow request of the log traffic takes this long to send its body.
SLOW_SECONDS = 5.2


@dataclass
class Seed:
    base: str
    env: dict[str, str]
    redis_port: int
    root: Path
    work: Path
    chats: int = 0  # POST /api/chat requests sent to this server (by ask, or counted by hand)

    @property
    def log_dir(self) -> Path:
        return Path(self.env["LOG_DIR"])

    @property
    def certificate(self) -> Path:
        return self.root / "ssl" / "cert.pem"

    @property
    def logrotate_config(self) -> Path:
        return self.root / "logrotate" / "rag-chatbot"

    def as_written(self, command: str) -> str:
        command = command.replace("https://your-domain.com", self.base)
        command = command.replace("http://backend:8000", self.base)  # compose's name for it
        command = command.replace("/var/log/rag-chatbot", str(self.log_dir))
        command = command.replace(
            "docker-compose exec redis redis-cli", f"redis-cli -p {self.redis_port}"
        )
        command = command.replace("docker-compose exec backend ", "")
        command = command.replace("tail -f ", f"timeout {FOLLOW_SECONDS} tail -f ")
        command = command.replace("/etc/nginx/ssl/cert.pem", str(self.certificate))
        state = self.root / "logrotate" / "status"
        return command.replace(
            "/etc/logrotate.d/rag-chatbot", f"-s {state} {self.logrotate_config}"
        )

    def run(
        self, command: str, *, check: bool = True, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        ran = subprocess.run(
            ["bash", "-c", self.as_written(command)],
            cwd=cwd or self.work,
            env={**os.environ, **self.env, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check:
            assert ran.returncode == 0, f"{command}\n{ran.stdout}\n{ran.stderr}"
        return ran

    def start(self, command: str) -> subprocess.Popen[str]:
        """The command running in the background (a ``tail -f``, stopped by its timeout)."""
        return subprocess.Popen(
            ["bash", "-c", self.as_written(command)],
            cwd=self.work,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, question: str, token: str | None = None) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reply = httpx.post(
            f"{self.base}/api/chat", json={"message": question}, headers=headers, timeout=60
        )
        self.chats += 1
        assert reply.status_code == 200, reply.text
        body: dict[str, object] = reply.json()
        return body


def plain(url: str) -> str:
    """The libpq form of a database URL, the one the runbook's psql and pg_dump take."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _redis(port: int, root: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(root)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        pong = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
        )
        if pong.stdout.strip() == "PONG":
            return server
        time.sleep(0.1)
    server.kill()
    raise AssertionError("redis-server did not start")


def _stand_ins(root: Path, log_dir: Path) -> None:
    """The checkout, the certificate and the logrotate file the runbook's commands name."""
    work = root / "work"
    work.mkdir()
    (work / "scripts").symlink_to(ROOT / "scripts")
    (work / "deploy.sh").symlink_to(ROOT / "deploy.sh")
    (root / "ssl").mkdir()
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365"),
            *("-keyout", str(root / "ssl" / "key.pem"), "-out", str(root / "ssl" / "cert.pem")),
            *("-subj", "/CN=your-domain.com"),
        ],
        check=True,
        capture_output=True,
    )
    (root / "logrotate").mkdir()
    config = root / "logrotate" / "rag-chatbot"
    config.write_text(SHIPPED_LOGROTATE.read_text().replace("/var/log/rag-chatbot", str(log_dir)))
    config.chmod(0o644)  # logrotate ignores a configuration others may write


@contextmanager
def seed_deployment(root: Path, corpus: Path, admin: Engine) -> Iterator[Seed]:
    """The fixture corpus on a fresh PostgreSQL database, a private Redis and a real server."""
    from servers import free_port, ingest, start_server, stop

    port = free_port()
    redis = _redis(port, root)
    try:
        with fresh_database(admin, "rag_seed") as url:
            env = {
                "DATABASE_URL": plain(url),
                "DATA_DIR": str(root / "data"),
                "LOG_DIR": str(root / "logs"),
                "LOG_FORMAT": "text",
                "ENVIRONMENT": "test",
                "JWT_SECRET_KEY": TEST_JWT_SECRET,
                "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
                "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            }
            ingest(corpus, {**os.environ, **env})
            process, base = start_server(root, env)
            try:
                _stand_ins(root, root / "logs")
                operator = {**env, "RAG_CHATBOT_URL": base, "BACKUP_DIR": str(root / "backups")}
                yield Seed(base, operator, port, root, root / "work")
            finally:
                stop(process)
    finally:
        redis.terminate()
        redis.wait(timeout=30)


@dataclass
class Traffic:
    """What ``send_log_traffic`` sent: request id -> (status, milliseconds the client waited)."""

    before: dict[str, str]  # each command's output before the traffic
    access_lines: int
    user: str
    password: str
    sent: dict[str, tuple[int, float]] = field(default_factory=dict)
    questions: int = 0
    spike: str = ""
    spike_expected: int = -1

    def send(
        self, seed: Seed, method: str, path: str, request_id: str, **kw: Any
    ) -> httpx.Response:
        headers = {"X-Request-ID": request_id, **kw.pop("headers", {})}
        started = time.perf_counter()
        with httpx.Client(timeout=60) as client:
            response = client.request(method, f"{seed.base}{path}", headers=headers, **kw)
        self.sent[request_id] = (response.status_code, (time.perf_counter() - started) * 1e3)
        return response


def _errors(lines: list[str]) -> int:
    return sum("error" in line.lower() for line in lines)


def _database_down(seed: Seed, admin: Engine, traffic: Traffic) -> None:
    """A real 500: the database stops taking connections for one request, then comes back."""
    name = seed.env["DATABASE_URL"].rsplit("/", 1)[1]
    client = {"X-Client-Token": "seed-log-commands-browser"}
    with admin.connect() as connection:
        connection.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            failed = traffic.send(seed, "GET", "/api/sessions", "seeddbdown", headers=client)
            assert failed.status_code == 500
        finally:
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    back = traffic.send(seed, "GET", "/api/sessions", "seeddbback", headers=client)
    assert back.status_code == 200, back.text


def send_log_traffic(seed: Seed, admin: Engine, commands: Iterable[str], follow: str) -> Traffic:
    """A failed login, a 401, a 403, two questions, a slow request and a real 500.

    Each of ``commands`` runs first (``Traffic.before``); ``follow`` (a ``tail -f``) runs
    while the database fails a request.
    """
    name, password = f"logreader{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    seed.run(f"rag-chatbot users create {name} --password-stdin <<< '{password}'")
    access = (seed.log_dir / "access.log").read_text().splitlines()
    sent = Traffic({c: seed.run(c).stdout for c in commands}, len(access), name, password)
    login, stats = "/api/auth/login", "/api/admin/cache/stats"
    wrong = {"username": name, "password": "not-the-password"}
    assert sent.send(seed, "POST", login, "seedbadlogin", json=wrong).status_code == 401
    assert sent.send(seed, "GET", stats, "seednotoken").status_code == 401
    good = {"username": name, "password": password}
    token = sent.send(seed, "POST", login, "seedlogin", json=good).json()["access_token"]
    reader = {"Authorization": f"Bearer {token}"}
    assert sent.send(seed, "GET", stats, "seedforbidden", headers=reader).status_code == 403
    for request_id in ("seedchatone", "seedchattwo"):
        chat = sent.send(seed, "POST", "/api/chat", request_id, json={"message": QUESTION})
        assert chat.status_code == 200
        seed.chats += 1
        sent.questions += 1

    def trickle() -> Iterator[bytes]:  # a body that takes SLOW_SECONDS to arrive
        yield b'{"query": "fog'
        time.sleep(SLOW_SECONDS)
        yield b' horn"}'

    json_body = {"Content-Type": "application/json"}
    slow = sent.send(seed, "POST", "/api/search", "seedslow", content=trickle(), headers=json_body)
    assert slow.status_code == 200
    lines = (seed.log_dir / "app.log").read_text().splitlines()
    follower = seed.start(follow)
    time.sleep(1)  # tail has printed its last ten lines and follows
    _database_down(seed, admin, sent)
    sent.spike = follower.communicate(timeout=30)[0]
    followed = (seed.log_dir / "app.log").read_text().splitlines()
    sent.spike_expected = _errors(lines[-10:]) + _errors(followed[len(lines) :])
    return sent
