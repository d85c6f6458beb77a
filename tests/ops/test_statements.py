"""The performance report's PostgreSQL part: the slowest statements of pg_stat_statements.

The shared PostgreSQL of this machine does not preload pg_stat_statements, which covers the
two ways it is missing (not installed; installed but not loaded). For the case where it
works, a private PostgreSQL cluster is started with it preloaded (initdb and pg_ctl of the
same installation), and a deliberately slow statement must come out first.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deployments import cli
from sqlalchemy import create_engine, text

PG_BIN = Path("/usr/lib/postgresql/15/bin")
LINE = (
    "2024-05-01T10:00:00Z INFO rag_chatbot.http response_time 5 method=GET path=/api/health "
    "route=/api/health status=200 request_id=r1\n"
)


def _report(database_url: str, tmp_path: Path) -> dict[str, Any]:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "app.log").write_text(LINE)
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data")}
    upgraded = cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    ran = cli(
        "report",
        "performance",
        "--json",
        "--url",
        "http://127.0.0.1:9",
        "--since",
        "2024-05-01T00:00:00",
        "--log-dir",
        str(logs),
        env=env,
    )
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout)
    assert report["logs"]["requests"] == 1
    return report


@pytest.mark.integration
def test_the_report_says_when_the_extension_is_not_installed(
    new_pg_database: Callable[[], str], tmp_path: Path
) -> None:
    url = new_pg_database()
    database = _report(url, tmp_path)["database"]
    assert database["backend"] == "postgresql"
    assert "pg_stat_statements is not installed in this database" in database["note"]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION pg_stat_statements"))
    engine.dispose()
    database = _report(url, tmp_path)["database"]
    assert "shared_preload_libraries" in database["error"]


@pytest.fixture(scope="module")
def statements_server() -> Iterator[str]:
    """A private PostgreSQL with pg_stat_statements preloaded; the URL of its database."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"{PG_BIN}/initdb is missing (apt-get install postgresql-15)")
    # Outside pytest's temporary folders, which only their owner may enter: the server runs
    # as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="rag-pgstat-"))
    root.chmod(0o777)
    port = _free_port()
    as_postgres = ["su", "postgres", "-c"] if os.geteuid() == 0 else ["bash", "-c"]
    data = root / "cluster"
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
        "-c shared_preload_libraries=pg_stat_statements"
    )
    start = (
        f"{PG_BIN}/initdb -D {data} -A trust -U postgres >/dev/null && "
        f"{PG_BIN}/pg_ctl -D {data} -o '{options}' -l {root}/log -w start >/dev/null"
    )
    subprocess.run([*as_postgres, start], check=True, timeout=120)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = f"{PG_BIN}/pg_ctl -D {data} -m fast -w stop >/dev/null"
        subprocess.run([*as_postgres, stop], check=False, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.integration
def test_the_slowest_statement_comes_first(statements_server: str, tmp_path: Path) -> None:
    engine = create_engine(
        statements_server.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        connection.execute(text("SELECT pg_stat_statements_reset()"))
        connection.execute(text("SELECT pg_sleep(0.4)"))
        for _ in range(3):
            connection.execute(text("SELECT count(*) FROM pg_class"))
    engine.dispose()
    statements = _report(statements_server, tmp_path)["database"]["statements"]
    assert statements[0]["query"] == "SELECT pg_sleep($1)"
    assert statements[0]["calls"] == 1 and statements[0]["mean_ms"] >= 400
    means = [s["mean_ms"] for s in statements]
    assert means == sorted(means, reverse=True)
    counted = {s["query"]: s["calls"] for s in statements}
    assert counted.get("SELECT count(*) FROM pg_class") in (None, 3)  # if among the slowest
