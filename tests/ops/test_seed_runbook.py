"""The operator's runbook, run as written against a real server on PostgreSQL and Redis.

The commands below are the runbook's own (docs/runbook-procedures.md lists each procedure,
what it runs here and the test that runs it), copied verbatim; its scripts are run by
tests/ops/test_seed_runbook_scripts.py. They run with bash against one real ``rag-chatbot
serve`` on a fresh PostgreSQL database, given in the plain ``postgresql://`` form that ``psql``
and ``pg_dump`` take, and a Redis server of this module's own (so ``FLUSHALL`` wipes nobody
else's data); ``seed_support.seed_deployment`` sets them up. These things are changed, and
only these (``Seed.as_written``):

- the public address ``https://your-domain.com`` (and ``http://backend:8000``, its name inside
  compose) becomes the server's loopback address;
- ``/var/log/rag-chatbot`` becomes the server's ``LOG_DIR``;
- ``docker-compose exec SERVICE`` (no Docker engine here) runs the rest of the command where
  that service runs: the backend's commands on this host with its settings, ``redis-cli``
  against this module's Redis;
- ``tail -f`` stops after a few seconds (``timeout 3 tail -f``): a test cannot follow for ever;
- ``/etc/logrotate.d/rag-chatbot`` becomes a copy of deploy/logrotate/rag-chatbot (the file
  installed there) whose path is the server's ``LOG_DIR``, given with ``-s STATEFILE``: the
  record of this rotation goes to the test's folder, not to the host's
  /var/lib/logrotate/status (which only root could write);
- ``/etc/nginx/ssl/cert.pem`` becomes a self-signed certificate made for the test.

The commands run in a folder standing for the operator's checkout (see seed_support), with
``RAG_CHATBOT_URL``, ``BACKUP_DIR`` and the server's settings in the environment.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from postgres import fresh_database
from seed_support import (
    QUESTION,
    ROOT,
    SLOW_SECONDS,
    Seed,
    Traffic,
    plain,
    seed_deployment,
    send_log_traffic,
)
from sqlalchemy import Engine, create_engine, text
from table_dumps import table_dumps

from rag_chatbot.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def seed(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, postgres_admin: Engine
) -> Iterator[Seed]:
    with seed_deployment(tmp_path_factory.mktemp("seed"), fixture_corpus, postgres_admin) as seed:
        yield seed


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
    seed.ask(QUESTION)
    seed.run("pg_dump $DATABASE_URL > backup_$(date +%Y%m%d_%H%M%S).sql")
    (dump,) = seed.work.glob("backup_*.sql")
    assert re.fullmatch(r"backup_\d{8}_\d{6}\.sql", dump.name)
    source = create_engine(
        seed.env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    with fresh_database(postgres_admin, "rag_seed_restore") as url:
        restored = seed.run(f"psql $DATABASE_URL < {dump.name}", DATABASE_URL=plain(url))
        assert "ERROR" not in restored.stderr, restored.stderr
        counted = seed.run(
            'psql $DATABASE_URL -c "SELECT COUNT(*) FROM sessions;"', DATABASE_URL=plain(url)
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
        at = plain(url)
        seed.run("docker-compose exec backend alembic upgrade head", cwd=ROOT, DATABASE_URL=at)
        head = seed.run(
            "docker-compose exec backend alembic current", cwd=ROOT, DATABASE_URL=at
        ).stdout
        assert "(head)" in head
        seed.run("docker-compose exec backend alembic downgrade -1", cwd=ROOT, DATABASE_URL=at)
        below = seed.run(
            "docker-compose exec backend alembic current", cwd=ROOT, DATABASE_URL=at
        ).stdout
        assert below.strip() and "(head)" not in below
        seed.run("docker-compose exec backend alembic upgrade head", cwd=ROOT, DATABASE_URL=at)


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
    seed.ask(QUESTION)
    assert seed.ask(QUESTION)["cached"] is True
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
    assert seed.ask(QUESTION)["cached"] is False
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
    assert seed.ask(QUESTION, token)["answer"]
    keys = seed.run('docker-compose exec redis redis-cli KEYS "session:*"').stdout.split()
    assert keys, "the login's session is kept under session:*"
    assert int(seed.run("echo $JWT_SECRET_KEY | wc -c").stdout) > 32

    seed.ask(QUESTION)
    seed.run("docker-compose exec redis redis-cli FLUSHDB")
    # As docs/runbook.md says: every login ends (its session is gone), answers are recomputed.
    refused = httpx.get(
        f"{seed.base}/api/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert refused.status_code == 401
    assert seed.ask(QUESTION)["cached"] is False
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


# Log Analysis, Log-based Alerts and Log Rotation. Other tests of this module send requests
# too, so each command runs before and after the traffic below, and the difference is checked.
ERRORS = "grep -i error /var/log/rag-chatbot/app.log | tail -20"
TIMES = "grep \"response_time\" /var/log/rag-chatbot/app.log | awk '{print $5}' | sort -n"
QUESTIONS = 'grep "chat_request" /var/log/rag-chatbot/app.log | wc -l'
SPIKE = "tail -f /var/log/rag-chatbot/app.log | grep -i error | wc -l"
SLOW = "grep \"response_time\" /var/log/rag-chatbot/app.log | awk '$5 > 5000'"
REFUSALS = 'grep "401\\|403" /var/log/rag-chatbot/access.log | wc -l'
AUTH = 'grep "auth" /var/log/rag-chatbot/app.log'
ROTATE = "logrotate -f /etc/logrotate.d/rag-chatbot"
SIZES = "du -sh /var/log/rag-chatbot/*"
COMMANDS = (ERRORS, TIMES, QUESTIONS, SLOW, REFUSALS, AUTH)


@pytest.fixture(scope="module")
def traffic(seed: Seed, postgres_admin: Engine) -> Traffic:
    """A failed login, a 401, a 403, two questions, a slow request and a real 500."""
    return send_log_traffic(seed, postgres_admin, COMMANDS, follow=SPIKE)


def _new(seed: Seed, traffic: Traffic, command: str) -> list[str]:
    """The lines the command prints now after those it printed before the traffic."""
    before = traffic.before[command].splitlines()
    after = seed.run(command).stdout.splitlines()
    assert after[: len(before)] == before, command
    return after[len(before) :]


def _request_line(seed: Seed, request_id: str) -> str:
    (line,) = [
        line
        for line in (seed.log_dir / "app.log").read_text().splitlines()
        if " response_time " in line and line.endswith(f" request_id={request_id}")
    ]
    return line


def test_error_analysis_shows_the_failed_request(seed: Seed, traffic: Traffic) -> None:
    printed = seed.run(ERRORS).stdout.splitlines()
    assert 0 < len(printed) <= 20
    # Error records and their tracebacks' lines, nothing else (LOG_FORMAT=text's contract).
    levels = ("ERROR", "CRITICAL_ERROR")
    assert all(line.startswith("    ") or line.split()[1] in levels for line in printed)
    failure = ' ERROR rag_chatbot.api "unexpected error" error_code=PROCESSING_ERROR'
    assert failure not in traffic.before[ERRORS]
    assert any(failure in line for line in printed)  # the 500's, with its traceback
    everything = seed.run(ERRORS.split(" | ")[0]).stdout
    assert not [i for i in traffic.sent if i != "seeddbdown" and f"={i}" in everything]


def test_response_times_sort_in_milliseconds(seed: Seed, traffic: Traffic) -> None:
    before = Counter(int(v) for v in traffic.before[TIMES].split())
    printed = [int(v) for v in seed.run(TIMES).stdout.split()]
    assert printed == sorted(printed)
    ours = {i: int(_request_line(seed, i).split()[4]) for i in traffic.sent}
    assert Counter(printed) - before == Counter(ours.values())
    assert len(printed) == before.total() + len(traffic.sent)
    for request_id, (_, client_ms) in traffic.sent.items():
        assert ours[request_id] <= client_ms + 1, request_id
    assert ours["seedslow"] >= SLOW_SECONDS * 1000 - 50


def test_user_activity_counts_the_questions(seed: Seed, traffic: Traffic) -> None:
    asked = int(seed.run(QUESTIONS).stdout) - int(traffic.before[QUESTIONS])
    assert asked == traffic.questions == 2


def test_error_spike_counts_the_error_lines_as_they_come(traffic: Traffic) -> None:
    assert int(traffic.spike) == traffic.spike_expected >= 1


def test_performance_degradation_finds_the_slow_request(seed: Seed, traffic: Traffic) -> None:
    assert _new(seed, traffic, SLOW) == [_request_line(seed, "seedslow")]


def test_authentication_failures_count_401_and_403(seed: Seed, traffic: Traffic) -> None:
    counted = int(seed.run(REFUSALS).stdout) - int(traffic.before[REFUSALS])
    new = (seed.log_dir / "access.log").read_text().splitlines()[traffic.access_lines :]
    status = {line.split()[-1]: line.split()[-3] for line in new}
    refused = [i for i, (code, _) in traffic.sent.items() if code in (401, 403)]
    assert sorted(refused) == ["seedbadlogin", "seedforbidden", "seednotoken"]
    assert all(status[i] == str(traffic.sent[i][0]) for i in traffic.sent)
    # A line of another status counts too when its duration holds the digits (ids never do).
    lookalikes = [line for line in new if line.split()[-3] not in ("401", "403")]
    lookalikes = [line for line in lookalikes if re.search("401|403", line)]
    assert counted == len(refused) + len(lookalikes)


def test_authentication_logs_show_the_failed_login(seed: Seed, traffic: Traffic) -> None:
    new = _new(seed, traffic, AUTH)
    failed = [line for line in new if " WARNING rag_chatbot.auth auth_failed " in line]
    assert len(failed) == 1 and f"action=login user={traffic.user} " in failed[0]
    assert failed[0].endswith(" request_id=seedbadlogin")
    # The rest: the requests to /api/auth/login.
    logins = [_request_line(seed, i) for i in ("seedbadlogin", "seedlogin")]
    assert [line for line in new if line not in failed] == logins
    for log in [*seed.log_dir.iterdir(), seed.root / "serve.out"]:  # serve.out: its stderr
        assert traffic.password not in log.read_text(), log


def test_log_rotation_and_sizes(seed: Seed) -> None:
    installed = shutil.which("logrotate") or shutil.which("logrotate", path="/usr/sbin")
    assert installed, "logrotate is not installed (apt-get install -y logrotate; scripts/test.sh)"
    before = (seed.log_dir / "app.log").read_text()
    seed.run(ROTATE)
    assert (seed.log_dir / "app.log.1").read_text().startswith(before)
    assert (seed.log_dir / "access.log.1").exists()
    # The server reopens app.log by name: the next request's line lands in a new file.
    httpx.get(f"{seed.base}/api/health", headers={"X-Request-ID": "seedrotated"}, timeout=10)
    deadline = time.monotonic() + 10
    while "request_id=seedrotated" not in _text(seed.log_dir / "app.log"):
        assert time.monotonic() < deadline, "no line in the new app.log"
        time.sleep(0.05)
    assert "seedrotated" not in (seed.log_dir / "app.log.1").read_text()
    sizes = [line.split("\t") for line in seed.run(SIZES).stdout.splitlines()]
    assert sorted(path for _, path in sizes) == sorted(str(p) for p in seed.log_dir.iterdir())
    assert all(re.fullmatch(r"[\d.]+[KMG]?", size) for size, _ in sizes), sizes


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
