"""The daily, weekly and monthly maintenance scripts, run end to end on real deployments.

Each runs against a deployment holding the fixture corpus (SQLite; the weekly one also on
PostgreSQL) with a real server where the step needs one. A run must report every step, keep
going past a failed one, and exit 1 when any failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from deployments import QUESTION, ROOT, deployment, script, serving
from sqlalchemy import create_engine, func, insert, select

from rag_chatbot.db.models import SessionRow


def _outcomes(output: str) -> dict[str, str]:
    """Step name to its verdict, from the ``-- NAME: VERDICT`` lines."""
    return dict(re.findall(r"^-- (.+?): (ok|WARNING|skipped|FAILED)", output, re.M))


@pytest.fixture(scope="module")
def sqlite_site(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path
) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("site")
    env = deployment(root, fixture_corpus)
    with serving(root, env) as base:
        httpx.post(f"{base}/api/chat", json={"message": QUESTION}, timeout=30)
        yield {**env, "RAG_CHATBOT_URL": base, "ROOT": str(root)}


def _certificate(path: Path, days: int) -> int:
    """A self-signed certificate valid ``days``; its expiry (epoch seconds)."""
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes"),
            *("-keyout", f"{path}.key", "-out", str(path), "-days", str(days)),
            *("-subj", "/CN=rag-chatbot.test"),
        ],
        check=True,
        capture_output=True,
    )
    end = subprocess.run(
        ["openssl", "x509", "-in", str(path), "-noout", "-enddate"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    moment = datetime.strptime(end.removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z")
    return int(moment.replace(tzinfo=UTC).timestamp())


@pytest.mark.slow
@pytest.mark.integration
def test_daily_runs_every_step(sqlite_site: dict[str, str], tmp_path: Path) -> None:
    logs = Path(sqlite_site["LOG_DIR"])
    stale, fresh = logs / "app.log.3", logs / "app.log.1"
    stale.write_text("old\n")
    fresh.write_text("recent\n")
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).timestamp()
    os.utime(stale, (ten_days_ago, ten_days_ago))
    (logs / "huge.log").write_bytes(bytes(2 * 1024 * 1024))
    expiry = _certificate(tmp_path / "cert.pem", days=10)
    env = {
        **sqlite_site,
        "TLS_CERT_FILE": str(tmp_path / "cert.pem"),
        "METRICS_TEXTFILE_DIR": str(tmp_path / "textfile"),
        "LOG_WARN_MB": "1",
        "DISK_WARN_PERCENT": "100",
    }
    ran = script("daily-maintenance.sh", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    outcomes = _outcomes(ran.stdout)
    assert list(outcomes) == [
        "health",
        "disk",
        "large logs",
        "backup",
        "old logs",
        "certificate",
        "security updates",
    ]
    assert outcomes["health"] == outcomes["disk"] == outcomes["backup"] == "ok"
    assert outcomes["large logs"] == "WARNING" and "huge.log" in ran.stdout
    assert outcomes["old logs"] == "ok" and not stale.exists() and fresh.exists()
    assert "deleted 1 rotated log(s) older than 7 days" in ran.stdout
    assert outcomes["certificate"] == "WARNING"  # 10 days left, under the 30-day warning
    prom = (tmp_path / "textfile" / "rag_chatbot_tls.prom").read_text()
    metric = "rag_chatbot_tls_cert_expiry_timestamp_seconds"
    assert f'{metric}{{path="{tmp_path / "cert.pem"}"}} {expiry}\n' in prom
    assert list(Path(sqlite_site["BACKUP_DIR"]).glob("backup_*.sql"))
    assert outcomes["security updates"] in ("ok", "WARNING")  # whatever this host has pending
    assert "0 failed" in ran.stdout


@pytest.mark.slow
@pytest.mark.integration
def test_daily_reports_a_failure_and_goes_on(sqlite_site: dict[str, str], tmp_path: Path) -> None:
    env = {
        **sqlite_site,
        "RAG_CHATBOT_URL": "http://127.0.0.1:9",
        "DISK_WARN_PERCENT": "0",
        "TLS_CERT_FILE": str(tmp_path / "none.pem"),
    }
    ran = script("daily-maintenance.sh", env=env)
    assert ran.returncode == 1
    outcomes = _outcomes(ran.stdout)
    assert outcomes["health"] == "FAILED"
    assert outcomes["disk"] == "WARNING" and "Disk usage warning: " in ran.stdout
    assert outcomes["backup"] == "ok" and outcomes["certificate"] == "skipped"
    assert "daily-maintenance.sh: failed: health" in ran.stderr


def _idle_conversation(url: str) -> str:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    long_ago = datetime.now(UTC) - timedelta(days=60)
    session_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            insert(SessionRow).values(
                id=session_id, title="old", created_at=long_ago, updated_at=long_ago
            )
        )
    engine.dispose()
    return session_id


def _sessions(url: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        count = int(connection.scalar(select(func.count()).select_from(SessionRow)) or 0)
    engine.dispose()
    return count


@pytest.mark.slow
@pytest.mark.integration
def test_weekly_on_sqlite_beside_a_running_server(sqlite_site: dict[str, str]) -> None:
    url = f"sqlite:///{sqlite_site['DATA_DIR']}/rag-chatbot.db"
    _idle_conversation(url)
    before = _sessions(url)
    ran = script("weekly-maintenance.sh", env={**sqlite_site, "SESSION_RETENTION_DAYS": "30"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _outcomes(ran.stdout) == {
        "database": "ok",
        "conversations": "ok",
        "index": "skipped",  # the running server holds the embedded index
        "performance": "ok",
        "docker cleanup": "skipped",
        "system packages": "skipped",
    }
    assert "vacuumed the sqlite database" in ran.stdout
    assert "deleted 1 conversation(s)" in ran.stdout
    assert _sessions(url) == before - 1
    assert "POST /api/chat" in ran.stdout  # the performance report's routes


@pytest.mark.slow
@pytest.mark.integration
def test_weekly_on_postgresql(
    tmp_path: Path, fixture_corpus: Path, new_pg_database: Callable[[], str]
) -> None:
    url = new_pg_database().replace("postgresql+psycopg://", "postgresql://")
    env = deployment(tmp_path, fixture_corpus, url)
    with serving(tmp_path, env) as base:  # traffic for the logs, then the index is free
        for _ in range(3):
            httpx.post(f"{base}/api/chat", json={"message": QUESTION}, timeout=30)
    _idle_conversation(url)
    ran = script(
        "weekly-maintenance.sh",
        env={**env, "SESSION_RETENTION_DAYS": "30", "RAG_CHATBOT_URL": "http://127.0.0.1:9"},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    outcomes = _outcomes(ran.stdout)
    assert outcomes["database"] == outcomes["conversations"] == outcomes["index"] == "ok"
    assert "vacuumed the postgresql database" in ran.stdout
    assert "deleted 1 conversation(s)" in ran.stdout
    assert "compacted " in ran.stdout  # no server holds the index now
    assert outcomes["performance"] == "ok"
    assert "unavailable: ConnectError" in ran.stdout  # no metrics: the logs alone
    assert re.search(r"^ +3 +0 +0 .* POST /api/chat$", ran.stdout, re.M)


@pytest.mark.slow
@pytest.mark.integration
def test_weekly_fails_when_the_database_does_not_answer(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/rag_no_such_database",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_DIR": str(tmp_path / "logs"),
        "SESSION_RETENTION_DAYS": "30",
        "RAG_CHATBOT_URL": "http://127.0.0.1:9",
    }
    ran = script("weekly-maintenance.sh", env=env)
    assert ran.returncode == 1
    outcomes = _outcomes(ran.stdout)
    assert outcomes["database"] == outcomes["conversations"] == "FAILED"
    assert outcomes["index"] == "ok"  # each step ran: nothing to compact yet
    assert outcomes["performance"] == "FAILED"
    assert "weekly-maintenance.sh: failed: database conversations performance" in ran.stderr


def test_weekly_changes_the_host_only_when_asked() -> None:
    help_text = script("weekly-maintenance.sh", "--help", env={}).stdout
    assert "--docker-cleanup" in help_text and "--apt-upgrade" in help_text
    refused = script("weekly-maintenance.sh", "--prune-everything", env={})
    assert refused.returncode == 2


@pytest.mark.slow
@pytest.mark.integration
def test_monthly_runs_backup_capacity_and_recovery(sqlite_site: dict[str, str]) -> None:
    ran = script("monthly-maintenance.sh", env=sqlite_site, timeout=900)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    outcomes = _outcomes(ran.stdout)
    assert list(outcomes) == [
        "full backup",
        "capacity",
        "disaster recovery",
        "outdated",
        "vulnerabilities",
        "image scan",
    ]
    assert outcomes["full backup"] == outcomes["capacity"] == "ok"
    assert outcomes["disaster recovery"] == "ok"
    assert list(Path(sqlite_site["BACKUP_DIR"]).glob("full-backup_*.tar.gz"))
    assert "created in the last 30d: 3 documents" in ran.stdout
    # pip asks the package index; whether anything is outdated depends on the day.
    assert outcomes["outdated"] in ("ok", "WARNING")
    expected_audit = "skipped" if shutil.which("pip-audit") is None else outcomes["vulnerabilities"]
    assert outcomes["vulnerabilities"] == expected_audit
    assert outcomes["image scan"] == "skipped"


@pytest.mark.slow
@pytest.mark.integration
def test_monthly_fails_clearly_when_a_script_is_missing(
    sqlite_site: dict[str, str], tmp_path: Path
) -> None:
    # A checkout whose scripts/ lacks dr-test.sh (an older release, a partial copy).
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    (tmp_path / "scripts" / "dr-test.sh").unlink()
    ran = subprocess.run(
        [str(tmp_path / "scripts" / "monthly-maintenance.sh"), "--no-audit"],
        env={**os.environ, **sqlite_site},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 1
    outcomes = _outcomes(ran.stdout)
    assert outcomes["disaster recovery"] == "FAILED"
    assert "scripts/dr-test.sh is missing: this step cannot run" in ran.stdout
    assert outcomes["full backup"] == outcomes["capacity"] == "ok"
    assert outcomes["outdated"] == outcomes["vulnerabilities"] == "skipped"
    assert "monthly-maintenance.sh: failed: disaster recovery" in ran.stderr
