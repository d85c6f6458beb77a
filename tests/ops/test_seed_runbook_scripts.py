"""The operator runbook's scripts, run as written against a real server on PostgreSQL and Redis.

The deployment, rollback, database backup, performance and maintenance commands of the seed
runbook, each copied verbatim, run with bash against this module's own deployment
(``seed_support.seed_deployment``: the fixture corpus on a fresh PostgreSQL database, a private
Redis, a real ``rag-chatbot serve``) in the folder standing for the operator's checkout, with
the substitutions of ``Seed.as_written`` only (listed in tests/ops/test_seed_runbook.py).

``./deploy.sh production v1.2.0`` and ``./scripts/rollback.sh`` drive docker-compose, and no
Docker engine runs here: they run with ``--dry-run``, which prints the plan they would carry
out. tests/ops/test_deploy.py runs their real control flow with recording stand-ins for
``docker-compose`` and ``kubectl``.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from postgres import fresh_database
from seed_support import QUESTION, Seed, plain, seed_deployment
from sqlalchemy import Engine, create_engine
from table_dumps import table_dumps

from rag_chatbot.ops.drtest import table_counts

pytestmark = [pytest.mark.slow, pytest.mark.integration]

BACKUP = "./scripts/backup.sh"
DEPLOY = "./deploy.sh production v1.2.0"
HEALTH = "curl -f https://your-domain.com/api/health"
SMOKE = "./scripts/smoke-test.sh"
FOLLOW = "tail -f /var/log/rag-chatbot/app.log"
ROLLBACK = "./scripts/rollback.sh"
RESTORE = "./scripts/restore-db.sh backup_20240101_120000.sql"
BACKUP_DB = "./scripts/backup-db.sh"
REPORT = "./scripts/performance-report.sh"
METRICS = "curl https://your-domain.com/api/metrics"
CERTIFICATE = "openssl x509 -in /etc/nginx/ssl/cert.pem -noout -dates"
DAILY = "./scripts/daily-maintenance.sh"
WEEKLY = "./scripts/weekly-maintenance.sh"
MONTHLY = "./scripts/monthly-maintenance.sh"
FULL_BACKUP = "./scripts/full-backup.sh"
CAPACITY = "./scripts/capacity-report.sh"
DR_TEST = "./scripts/dr-test.sh"
# The runbook's daily block, whose first line names the script above; it runs as it stands.
DAILY_BLOCK = """
# Check system health
curl -f https://your-domain.com/api/health || echo "Health check failed"

# Check disk space
df -h | awk '$5 > 80 {print "Disk usage warning: " $0}'

# Check log file sizes
find /var/log/rag-chatbot -name "*.log" -size +100M

# Backup database
./scripts/backup-db.sh

# Clean old logs
find /var/log/rag-chatbot -name "*.log.*" -mtime +7 -delete

# Update system packages (if needed)
apt list --upgradable | grep -i security
"""


@pytest.fixture(scope="module")
def seed(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, postgres_admin: Engine
) -> Iterator[Seed]:
    root = tmp_path_factory.mktemp("seed-scripts")
    with seed_deployment(root, fixture_corpus, postgres_admin) as seed:
        seed.ask(QUESTION)  # a conversation for the backups to hold
        yield seed


def _backups(seed: Seed, pattern: str) -> list[Path]:
    return sorted(Path(seed.env["BACKUP_DIR"]).glob(pattern))


def _outcomes(output: str) -> dict[str, str]:
    """Step name to its verdict, from a maintenance script's ``-- NAME: VERDICT`` lines."""
    return dict(re.findall(r"^-- (.+?): (ok|WARNING|skipped|FAILED)", output, re.M))


# Deploy New Version


def test_deploy_step_backup(seed: Seed) -> None:
    said = seed.run(BACKUP).stdout
    (archive,) = _backups(seed, "rag-chatbot-*.tar.gz")
    assert re.fullmatch(r"rag-chatbot-\d{8}T\d{6}Z\.tar\.gz", archive.name)
    with tarfile.open(archive) as opened:
        assert opened.getnames()
    for table, rows in table_counts(seed.env["DATABASE_URL"]).items():
        assert f" {table} {rows}" in said, (table, said)


def test_deploy_step_verify(seed: Seed) -> None:
    assert json.loads(seed.run(HEALTH).stdout)["status"] == "healthy"
    smoked = seed.run(SMOKE)  # RAG_CHATBOT_URL names the service
    seed.chats += 1  # the smoke test asks one question
    assert f"smoke-test: all checks passed against {seed.base}\n" in smoked.stdout


def test_deploy_step_monitor(seed: Seed) -> None:
    shown = (seed.log_dir / "app.log").read_text().splitlines()[-10:]
    follower = seed.start(FOLLOW)
    time.sleep(1)  # tail has printed its last ten lines and follows
    httpx.get(f"{seed.base}/api/health", headers={"X-Request-ID": "seedfollowed"}, timeout=10)
    printed = follower.communicate(timeout=30)[0].splitlines()
    assert follower.returncode == 124  # stopped by its timeout, still following
    assert printed[:10] == shown
    assert any(line.endswith(" request_id=seedfollowed") for line in printed[10:]), printed


def test_deploy_plan(seed: Seed) -> None:
    # The plan only (no Docker engine here); tests/ops/test_deploy.py runs the real control
    # flow, failures and rollbacks included, with recording stand-ins for docker-compose.
    record = seed.work / ".deploy" / "compose-production.versions"
    recorded = record.read_text() if record.exists() else None
    planned = seed.run(f"{DEPLOY} --dry-run").stdout.splitlines()
    steps = [line for line in planned if line.startswith("+ ")]

    def step(text: str) -> int:
        (at,) = [i for i, line in enumerate(steps) if text in line]
        return at

    assert step("+ scripts/backup-db.sh") == 0  # backup first
    assert "RAG_CHATBOT_TAG=v1.2.0" in steps[step("+ export ")]
    migrate = step("docker-compose -f docker-compose.prod.yml run --rm --no-deps backend")
    assert steps[migrate].endswith("rag-chatbot db upgrade")
    assert migrate < step("docker-compose -f docker-compose.prod.yml up -d") < step("/api/health")
    assert step("/api/health") < step("+ scripts/smoke-test.sh ") == len(steps) - 1
    assert "deploy.sh: dry run: nothing recorded" in planned
    assert (record.read_text() if record.exists() else None) == recorded


# Rollback Deployment


def test_rollback_plan(seed: Seed) -> None:
    # As for deploy.sh: the plan here, the real control flow in tests/ops/test_deploy.py.
    # The record says v1.2.0 was deployed over v1.1.0.
    record = seed.work / ".deploy" / "compose-production.versions"
    record.parent.mkdir(exist_ok=True)
    record.write_text("v1.1.0 2024-01-01T12:00:00Z\nv1.2.0 2024-01-02T12:00:00Z\n")
    planned = seed.run(f"{ROLLBACK} --dry-run").stdout
    assert "RAG_CHATBOT_TAG=v1.1.0" in planned
    assert "+ docker-compose -f docker-compose.prod.yml up -d --remove-orphans\n" in planned
    assert planned.endswith("rollback.sh: production (compose) now runs v1.1.0\n")
    assert record.read_text().endswith("v1.2.0 2024-01-02T12:00:00Z\n")  # dry: not changed


def test_database_rollback(seed: Seed, postgres_admin: Engine) -> None:
    seed.run(BACKUP_DB)
    shutil.copy(_backups(seed, "backup_*.sql")[-1], seed.work / "backup_20240101_120000.sql")
    live = create_engine(seed.env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    try:
        with fresh_database(postgres_admin, "rag_seed_rollback") as url:
            restored = seed.run(RESTORE, DATABASE_URL=plain(url))
            assert restored.stdout == "restore-db.sh: restored backup_20240101_120000.sql\n"
            target = create_engine(url)
            try:
                assert table_dumps(target) == table_dumps(live)
            finally:
                target.dispose()
        # Over the live database, which holds data: refused, and nothing is touched.
        before = table_dumps(live)
        refused = seed.run(RESTORE, check=False)
        assert refused.returncode == 1 and refused.stdout == ""
        (line,) = refused.stderr.splitlines()
        assert line.startswith("restore-db.sh: the database holds data (")
        assert line.endswith("refusing (use --force to replace it; its contents are saved first)")
        assert table_dumps(live) == before
        assert not list(seed.work.glob("pre-restore_*"))
    finally:
        live.dispose()


# Database Backup


def test_database_backup_script(seed: Seed) -> None:
    started = datetime.now().replace(microsecond=0)
    said = seed.run(BACKUP_DB).stdout
    written = re.fullmatch(r"backup-db\.sh: wrote (\S+) \(plain, \d+ bytes\)\n", said)
    assert written, said
    dump = Path(written[1])
    assert dump.parent == Path(seed.env["BACKUP_DIR"])
    assert re.fullmatch(r"backup_\d{8}_\d{6}\.sql", dump.name)
    taken = datetime.strptime(dump.name, "backup_%Y%m%d_%H%M%S.sql")
    assert started <= taken <= datetime.now()
    assert "PostgreSQL database dump" in dump.read_text()
    assert dump.stat().st_mode & 0o777 == 0o600


# Performance: the performance report and the application's metrics


def test_performance_report_and_metrics(seed: Seed) -> None:
    seed.ask(QUESTION)
    seed.ask("How hot should green tea water be?")
    served = (seed.log_dir / "access.log").read_text().count('"POST /api/chat HTTP/')
    assert served == seed.chats
    report = seed.run(REPORT).stdout
    # One row for the metrics' figures, one for the log's: requests, 5xx, 4xx, ..., route.
    rows = re.findall(r"^ +(\d+) +0 +0 .*  POST /api/chat$", report, re.M)
    assert rows == [str(seed.chats)] * 2, report
    metrics = seed.run(METRICS).stdout
    counted = r'^http_requests_total\{method="POST",path="/api/chat",status="200"\} (\S+)$'
    found = re.search(counted, metrics, re.M)
    assert found and float(found[1]) == seed.chats, metrics
    assert 'http_request_duration_seconds_count{method="POST",path="/api/chat"}' in metrics


# Maintenance Procedures


def test_daily_maintenance(seed: Seed) -> None:
    textfile = seed.root / "textfile"
    ran = seed.run(DAILY, TLS_CERT_FILE=str(seed.certificate), METRICS_TEXTFILE_DIR=str(textfile))
    outcomes = _outcomes(ran.stdout)
    assert outcomes["health"] == outcomes["backup"] == outcomes["certificate"] == "ok"
    assert outcomes["large logs"] == outcomes["old logs"] == "ok"
    assert outcomes["disk"] in ("ok", "WARNING")  # whatever this host's disks hold
    assert outcomes["security updates"] in ("ok", "WARNING")
    assert "(365 days)" in ran.stdout or "(364 days)" in ran.stdout
    assert (textfile / "rag_chatbot_tls.prom").exists()


def test_daily_maintenance_block(seed: Seed) -> None:
    before = set(_backups(seed, "backup_*.sql"))
    time.sleep(1)  # a new second, so a new backup name
    ran = seed.run(DAILY_BLOCK, check=False)  # its status is the last grep's
    health, end = json.JSONDecoder().raw_decode(ran.stdout)  # curl ends it with no newline
    assert health["status"] == "healthy" and "Health check failed" not in ran.stdout
    assert "backup-db.sh: wrote " in ran.stdout, ran.stderr
    # The block's awk also flags df's header ("Use%" > 80 compares as text), which
    # scripts/daily-maintenance.sh skips; any other line it prints is a filesystem over 80 %.
    for line in re.findall(r"Disk usage warning: (.*)", ran.stdout[end:]):
        assert line.startswith("Filesystem ") or int(line.split()[4].rstrip("%")) > 80, line
    assert len(set(_backups(seed, "backup_*.sql")) - before) == 1


def test_certificate_check(seed: Seed) -> None:
    dates = seed.run(CERTIFICATE).stdout.splitlines()
    assert [line.split("=")[0] for line in dates] == ["notBefore", "notAfter"]
    ends = datetime.strptime(dates[1].split("=")[1], "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
    assert abs(ends - (datetime.now(UTC) + timedelta(days=365))) < timedelta(hours=1)


def test_weekly_maintenance(seed: Seed) -> None:
    ran = seed.run(WEEKLY)
    assert _outcomes(ran.stdout) == {
        "database": "ok",
        "conversations": "ok",
        "index": "skipped",  # the running server holds the embedded index
        "performance": "ok",
        "docker cleanup": "skipped",
        "system packages": "skipped",
    }
    assert "vacuumed the postgresql database" in ran.stdout
    assert re.search(r"^ +\d+ +0 +0 .*  POST /api/chat$", ran.stdout, re.M)


def test_monthly_maintenance(seed: Seed, postgres_admin: Engine) -> None:
    with fresh_database(postgres_admin, "rag_seed_dr") as scratch:
        ran = seed.run(MONTHLY, DR_DATABASE_URL=plain(scratch))
    outcomes = _outcomes(ran.stdout)
    assert outcomes["full backup"] == outcomes["capacity"] == "ok"
    assert outcomes["disaster recovery"] == "ok"
    assert outcomes["outdated"] in ("ok", "WARNING")  # pip asks the package index
    assert outcomes["vulnerabilities"] in ("ok", "skipped")  # skipped without pip-audit
    assert outcomes["image scan"] == "skipped"  # no trivy, no SCAN_IMAGE


def test_full_backup_capacity_and_recovery(seed: Seed, postgres_admin: Engine) -> None:
    counts = table_counts(seed.env["DATABASE_URL"])
    held = dict(counts, passages=counts["chunks"])
    before = set(_backups(seed, "full-backup_*.tar.gz"))
    time.sleep(1)  # a new second, so a new archive name
    said = seed.run(FULL_BACKUP).stdout
    (archive,) = set(_backups(seed, "full-backup_*.tar.gz")) - before
    assert re.fullmatch(r"full-backup_\d{8}_\d{6}\.tar\.gz", archive.name)
    assert said.startswith(f"wrote {archive} ")
    assert "documents {documents}, passages {passages}, sessions {sessions}".format(**held) in said

    reported = seed.run(CAPACITY).stdout
    for name in ("documents", "passages", "sessions", "messages", "feedback"):
        assert f"{name}: {held[name]}" in reported, (name, reported)

    with fresh_database(postgres_admin, "rag_seed_dr") as scratch:
        checked = seed.run(DR_TEST, DR_DATABASE_URL=plain(scratch)).stdout
    assert checked.startswith(f"dr-test.sh: restoring {archive} ")
    assert re.search(r"^native dump \(database\.sql\) .* PASS$", checked, re.M), checked
    for table, rows in counts.items():
        assert re.search(rf"^rows in {table} +{rows} +{rows} +PASS$", checked, re.M), table
    assert re.search(r"^answer: .* PASS$", checked, re.M)
    passed = checked.count(" PASS\n")  # the table's rows, every one passed
    assert checked.endswith(f"dr-test: PASS ({passed} checks) for {archive}\n")
