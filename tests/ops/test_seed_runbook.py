"""The operator's runbook, run as written against a real server on PostgreSQL and Redis.

The commands below are the runbook's own (docs/runbook-procedures.md lists each procedure,
what it runs here and the test that runs it). They run with bash against one real
``rag-chatbot serve`` on a fresh PostgreSQL database, given in the plain ``postgresql://`` form
that ``psql`` and ``pg_dump`` take, and a Redis server of this module's own (so ``FLUSHALL``
wipes nobody else's data). Three things are changed, and only these: the public address
``https://your-domain.com`` (and ``http://backend:8000``, its name inside compose) becomes the
server's loopback address, ``/var/log/rag-chatbot``
becomes the server's ``LOG_DIR``, and ``docker-compose exec SERVICE`` (no Docker engine here)
runs the rest of the command where that service runs: the backend's commands on this host with
its settings, ``redis-cli`` against this module's Redis.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from postgres import fresh_database
from sqlalchemy import Engine, create_engine, text
from table_dumps import table_dumps
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "When does the fog horn sound?"
pytestmark = [pytest.mark.slow, pytest.mark.integration]


@dataclass
class Seed:
    base: str
    env: dict[str, str]
    redis_port: int
    log_dir: Path
    work: Path

    def as_written(self, command: str) -> str:
        command = command.replace("https://your-domain.com", self.base)
        command = command.replace("http://backend:8000", self.base)  # compose's name for it
        command = command.replace("/var/log/rag-chatbot", str(self.log_dir))
        command = command.replace(
            "docker-compose exec redis redis-cli", f"redis-cli -p {self.redis_port}"
        )
        return command.replace("docker-compose exec backend ", "")

    def run(
        self, command: str, *, check: bool = True, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        ran = subprocess.run(
            ["bash", "-c", self.as_written(command)],
            cwd=cwd or self.work,
            env={**os.environ, **self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert ran.returncode == 0, f"{command}\n{ran.stdout}\n{ran.stderr}"
        return ran


# docs/runbook.md's form of the runbook's index statements: one per `psql -c`, IF NOT EXISTS.
OUR_INDEX_STATEMENTS = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_messages_session_id ON messages(session_id);",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_documents_created_at ON documents(created_at);",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_messages_session_created"
    " ON messages(session_id, created_at);",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_documents_status"
    " ON documents(status) WHERE status = 'completed';",
)
EXPLAIN = """EXPLAIN ANALYZE SELECT * FROM messages
WHERE session_id = 'uuid'
ORDER BY created_at DESC LIMIT 10;"""


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _redis(port: int, root: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            == "PONG"
        ):
            return server
        time.sleep(0.1)
    server.kill()
    raise AssertionError("redis-server did not start")


@pytest.fixture(scope="module")
def seed(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, postgres_admin: Engine
) -> Iterator[Seed]:
    from servers import free_port, ingest, start_server, stop

    root = tmp_path_factory.mktemp("seed")
    port = free_port()
    redis = _redis(port, root)
    try:
        with fresh_database(postgres_admin, "rag_seed") as url:
            env = {
                "DATABASE_URL": _plain(url),
                "DATA_DIR": str(root / "data"),
                "LOG_DIR": str(root / "logs"),
                "LOG_FORMAT": "text",
                "ENVIRONMENT": "test",
                "JWT_SECRET_KEY": TEST_JWT_SECRET,
                "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
                "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            }
            ingest(fixture_corpus, {**os.environ, **env})
            process, base = start_server(root, env)
            try:
                work = root / "work"
                work.mkdir()
                yield Seed(base, env, port, root / "logs", work)
            finally:
                stop(process)
    finally:
        redis.terminate()
        redis.wait(timeout=30)


def _ask(seed: Seed, question: str, token: str | None = None) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = httpx.post(
        f"{seed.base}/api/chat", json={"message": question}, headers=headers, timeout=60
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_health_checks(seed: Seed) -> None:
    simple = json.loads(seed.run("curl -f https://your-domain.com/api/health").stdout)
    assert simple["status"] == "healthy"
    assert {"environment", "version", "timestamp"} <= set(simple)
    detailed = json.loads(seed.run("curl -f https://your-domain.com/api/health/detailed").stdout)
    assert detailed["services"] == {
        "database": "healthy",
        "vector_db": "healthy",
        "ai_service": "healthy",
        "cache": "healthy",
    }
    metrics = detailed["metrics"]  # seconds and fractions, as in the runbook's example
    assert 0 < metrics["response_time"] < 2
    assert 0 < metrics["memory_usage"] <= 1 and 0 <= metrics["cpu_usage"] <= 1


def test_the_backend_answers_on_its_own_port(seed: Seed) -> None:
    probed = seed.run("curl -v http://backend:8000/health")
    assert json.loads(probed.stdout)["status"] == "healthy"
    assert "< HTTP/1.1 200" in probed.stderr


def test_database_backup_and_restore(seed: Seed, postgres_admin: Engine) -> None:
    _ask(seed, QUESTION)
    seed.run("pg_dump $DATABASE_URL > backup_$(date +%Y%m%d_%H%M%S).sql")
    (dump,) = seed.work.glob("backup_*.sql")
    assert re.fullmatch(r"backup_\d{8}_\d{6}\.sql", dump.name)
    source = create_engine(
        seed.env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    with fresh_database(postgres_admin, "rag_seed_restore") as url:
        restored = seed.run(f"psql $DATABASE_URL < {dump.name}", DATABASE_URL=_plain(url))
        assert "ERROR" not in restored.stderr, restored.stderr
        counted = seed.run(
            'psql $DATABASE_URL -c "SELECT COUNT(*) FROM sessions;"', DATABASE_URL=_plain(url)
        )
        target = create_engine(url)
        try:
            assert table_dumps(target) == table_dumps(source)
            with source.connect() as connection:
                sessions = connection.scalar(text("SELECT count(*) FROM sessions"))
            assert sessions and f"\n {sessions:>5}\n" in counted.stdout
        finally:
            target.dispose()
            source.dispose()
    dump.unlink()


def test_migrations(seed: Seed, postgres_admin: Engine) -> None:
    with fresh_database(postgres_admin, "rag_seed_migrate") as url:
        # In the image the backend's working directory holds alembic.ini, as the checkout does.
        at = {"DATABASE_URL": _plain(url)}
        seed.run("docker-compose exec backend alembic upgrade head", cwd=ROOT, **at)
        head = seed.run("docker-compose exec backend alembic current", cwd=ROOT, **at).stdout
        assert "(head)" in head
        seed.run("docker-compose exec backend alembic downgrade -1", cwd=ROOT, **at)
        below = seed.run("docker-compose exec backend alembic current", cwd=ROOT, **at).stdout
        assert below.strip() and "(head)" not in below
        seed.run("docker-compose exec backend alembic upgrade head", cwd=ROOT, **at)


def test_index_statements_find_ours_and_create_nothing(seed: Seed) -> None:
    count = (
        "psql -At $DATABASE_URL -c \"SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'\""
    )
    before = seed.run(count).stdout
    # The runbook's two statements in one `psql -c` are one transaction, which CONCURRENTLY
    # refuses; docs/runbook.md gives them one per `psql -c`, with IF NOT EXISTS.
    literal = seed.run(
        """docker-compose exec backend psql $DATABASE_URL -c "
   CREATE INDEX CONCURRENTLY idx_messages_session_id ON messages(session_id);
   CREATE INDEX CONCURRENTLY idx_documents_created_at ON documents(created_at);"
""",
        check=False,
    )
    assert literal.returncode != 0 and "transaction block" in literal.stderr
    for statement in OUR_INDEX_STATEMENTS:
        done = seed.run(f'psql $DATABASE_URL -c "{statement}"')
        assert "already exists, skipping" in done.stderr
    assert seed.run(count).stdout == before
    analysed = seed.run(
        f'psql $DATABASE_URL -c "{EXPLAIN}" -c "ANALYZE messages;" -c "ANALYZE documents;"'
        ' -c "ANALYZE sessions;"'
    )
    assert "idx_messages_session" in analysed.stdout
    assert (
        seed.run('docker-compose exec backend psql $DATABASE_URL -c "VACUUM ANALYZE;"').returncode
        == 0
    )


def test_cache_operations(seed: Seed) -> None:
    bearer = '-H "Authorization: Bearer $ADMIN_TOKEN"'
    _ask(seed, QUESTION)
    assert _ask(seed, QUESTION)["cached"] is True
    stats = json.loads(
        seed.run(f"curl https://your-domain.com/api/admin/cache/stats \\\n  {bearer}").stdout
    )
    assert stats["backend"] == "redis" and stats["hits"] >= 1
    assert "keyspace_hits" in seed.run("docker-compose exec redis redis-cli INFO stats").stdout
    cleared = json.loads(
        seed.run(
            f"curl -X POST https://your-domain.com/api/admin/cache/clear \\\n  {bearer}"
        ).stdout
    )
    assert cleared["cleared"] >= 1
    assert _ask(seed, QUESTION)["cached"] is False
    # The runbook's warm-up, with the admin token it needs and no body.
    warmed = json.loads(
        seed.run(f"curl -X POST https://your-domain.com/api/admin/cache/warm {bearer}").stdout
    )
    assert QUESTION.lower() in warmed["questions"] and warmed["failed"] == 0


def test_flushing_redis_ends_logins_and_empties_the_cache(seed: Seed) -> None:
    name, password = f"reader{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    seed.run(f"rag-chatbot users create {name} --password-stdin <<< '{password}'")
    login = httpx.post(
        f"{seed.base}/api/auth/login", json={"username": name, "password": password}, timeout=30
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    assert _ask(seed, QUESTION, token)["answer"]
    keys = seed.run('docker-compose exec redis redis-cli KEYS "session:*"').stdout.split()
    assert keys, "the login's session is kept under session:*"
    assert int(seed.run("echo $JWT_SECRET_KEY | wc -c").stdout) > 32

    _ask(seed, QUESTION)
    seed.run("docker-compose exec redis redis-cli FLUSHDB")
    # As docs/runbook.md says: every login ends (its session is gone), answers are recomputed.
    refused = httpx.get(
        f"{seed.base}/api/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert refused.status_code == 401
    assert _ask(seed, QUESTION)["cached"] is False
    seed.run("docker-compose exec redis redis-cli FLUSHALL")
    assert not seed.run('docker-compose exec redis redis-cli KEYS "session:*"').stdout.split()


def test_settings_the_runbook_tunes_exist() -> None:
    # Each `echo "NAME=..." >> .env.prod` of the runbook names a setting of ours.
    tuned = {
        "ENABLE_RESPONSE_CACHE",
        "JWT_SECRET_KEY",
        "ENABLE_GZIP",
        "EMBEDDING_BATCH_SIZE",
        "DB_POOL_SIZE",
        "DB_MAX_OVERFLOW",
        "REDIS_URL",
        "CACHE_TTL",
    }
    # ...and its SQLALCHEMY_POOL_* constants are these three.
    tuned |= {"DB_POOL_RECYCLE"}
    assert {name.lower() for name in tuned} <= set(Settings.model_fields)


def test_memory_investigation_snippet(seed: Seed) -> None:
    snippet = seed.run(
        """docker-compose exec backend python -c "
import psutil
import gc
print(f'Memory usage: {psutil.virtual_memory().percent}%')
print(f'Objects in memory: {len(gc.get_objects())}')
"
"""
    )
    assert re.search(r"Memory usage: [\d.]+%\nObjects in memory: \d+", snippet.stdout)


def test_tools_the_runbook_reads_are_installed() -> None:
    for tool in ("pg_dump", "psql", "redis-cli", "curl", "openssl", "alembic"):
        assert shutil.which(tool), tool
