"""The operator runbook's log commands, run literally with bash on a real server's log files.

A real ``rag-chatbot serve`` (PostgreSQL, the fixture corpus, ``LOG_FORMAT=text``) gets an
upload to index, questions on every route that answers one, failed logins and refreshes,
refused admin calls (401 and 403), two requests made slow by a client that sends its body
slowly, and a real 500: its database stops accepting connections. Then each command of the
seed runbook's "Log Analysis" and "Log-based Alerts" runs as written (only
``/var/log/rag-chatbot`` becomes the server's ``LOG_DIR``) and must print exactly what those
requests call for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from postgres import fresh_database
from sqlalchemy import Engine
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED_LOGS = "/var/log/rag-chatbot"
ERRORS = "grep -i error /var/log/rag-chatbot/app.log | tail -20"
# `tail -f ... | grep -i error | wc -l` (the error-spike alert) is this filter, kept running.
ERROR_LINES = "grep -i error /var/log/rag-chatbot/app.log"
TIMES = "grep \"response_time\" /var/log/rag-chatbot/app.log | awk '{print $5}' | sort -n"
QUESTIONS = 'grep "chat_request" /var/log/rag-chatbot/app.log | wc -l'
SLOW = "grep \"response_time\" /var/log/rag-chatbot/app.log | awk '$5 > 5000'"
AUTH = 'grep "auth" /var/log/rag-chatbot/app.log'
REFUSALS = 'grep "401\\|403" /var/log/rag-chatbot/access.log | wc -l'

READER, READER_PASSWORD = "logreader", "reader-pass-Kq82-long"
WRONG_PASSWORD = "not-the-password-Zx93"
CLIENT_TOKEN = {"X-Client-Token": "log-commands-browser-0123"}
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
SLOW_SECONDS = 5.3
FAILED_ID = "dbdown"  # the 500 is answered outside the middleware: no id comes back


@dataclass
class Sent:
    """What the client saw: request id -> (status, milliseconds from send to last byte)."""

    requests: dict[str, tuple[int, float]] = field(default_factory=dict)
    slow: list[str] = field(default_factory=list)
    questions: int = 0
    auth_failures: int = 0

    def add(self, response: httpx.Response, started: float) -> httpx.Response:
        request_id = response.headers.get("X-Request-ID", FAILED_ID)
        self.requests[request_id] = (response.status_code, (time.perf_counter() - started) * 1e3)
        return response


@dataclass
class Logs:
    path: Path
    sent: Sent
    password_texts: tuple[str, ...]

    def run(self, command: str) -> str:
        literal = command.replace(SEED_LOGS, str(self.path))
        ran = subprocess.run(["bash", "-c", literal], capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    def app_log(self) -> list[str]:
        return (self.path / "app.log").read_text(encoding="utf-8").splitlines()


def _request(sent: Sent, method: str, url: str, **kwargs: object) -> httpx.Response:
    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        response.read()
    return sent.add(response, started)


def _ask(sent: Sent, base: str) -> None:
    fog = {"message": "When does the fog horn sound?"}
    tea = {"message": "How hot should green tea water be?", "stream": True}
    completion = {
        "model": "rag-chatbot",
        "messages": [{"role": "user", "content": "When does the fog horn sound?"}],
    }
    for response in (
        _request(sent, "POST", f"{base}/api/chat", json=fog),
        _request(sent, "POST", f"{base}/api/chat", json=fog),  # the cached answer
        _request(sent, "POST", f"{base}/api/chat", json=tea),
        _request(sent, "POST", f"{base}/v1/chat/completions", json=completion, headers=ADMIN),
        _request(
            sent,
            "POST",
            f"{base}/v1/chat/completions",
            json={**completion, "stream": True},
            headers=ADMIN,
        ),
    ):
        assert response.status_code == 200, response.text
        sent.questions += 1
    assert "80 degrees" in _request(sent, "POST", f"{base}/api/chat", json=tea).text
    sent.questions += 1


def _refuse(sent: Sent, base: str) -> None:
    login = f"{base}/api/auth/login"
    for username, password in ((READER, WRONG_PASSWORD), ("nobody here", WRONG_PASSWORD)):
        failed = _request(sent, "POST", login, json={"username": username, "password": password})
        assert failed.status_code == 401
    refreshed = _request(sent, "POST", f"{base}/api/auth/refresh", json={"refresh_token": "x.y.z"})
    assert refreshed.status_code == 401
    sent.auth_failures += 3
    assert _request(sent, "GET", f"{base}/api/admin/cache/stats").status_code == 401
    ok = _request(sent, "POST", login, json={"username": READER, "password": READER_PASSWORD})
    reader = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert _request(sent, "GET", f"{base}/api/admin/cache/stats", headers=reader).status_code == 403


def _upload(sent: Sent, base: str) -> None:
    """An operator's upload, indexed by the server itself: ingestion's lines are ordinary."""
    page = ("harbour.md", b"# Harbour\n\nThe harbour light shows green to starboard.\n")
    accepted = _request(sent, "POST", f"{base}/api/documents", files={"file": page}, headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 60
    # The list, not /api/documents/{id}: an id in a path may hold the digits 401 or 403.
    while time.monotonic() < deadline:
        listed = _request(sent, "GET", f"{base}/api/documents", headers=ADMIN).json()
        if {d["source"]: d["status"] for d in listed}.get("harbour.md") == "completed":
            return
        time.sleep(0.2)
    raise AssertionError(f"the upload was not indexed: {listed}")


def _slow_requests(sent: Sent, base: str) -> None:
    """Two searches whose bodies arrive over SLOW_SECONDS: slow for a real reason."""

    def trickle() -> Iterator[bytes]:
        yield b'{"query": "fog'
        time.sleep(SLOW_SECONDS)
        yield b' horn"}'

    def search() -> None:
        started = time.perf_counter()
        with httpx.Client(timeout=60) as client:
            response = client.post(
                f"{base}/api/search",
                content=trickle(),
                headers={"Content-Type": "application/json"},
            )
        assert response.status_code == 200, response.text
        sent.add(response, started)
        sent.slow.append(response.headers["X-Request-ID"])

    threads = [threading.Thread(target=search) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent.slow) == 2


def _fail_for_real(sent: Sent, base: str, admin: Engine, database: str) -> None:
    """The database stops accepting connections; a request that needs it fails with a 500."""
    with admin.connect() as connection:
        connection.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
    headers = {**CLIENT_TOKEN, "X-Request-ID": FAILED_ID}
    assert _request(sent, "GET", f"{base}/api/sessions", headers=headers).status_code == 500


@pytest.fixture(scope="module")
def logs(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, postgres_admin: Engine
) -> Iterator[Logs]:
    from servers import ingest, start_server, stop

    root = tmp_path_factory.mktemp("log-commands")
    with fresh_database(postgres_admin, "rag_logs") as url:
        env = {
            "DATA_DIR": str(root / "data"),
            "LOG_DIR": str(root / "logs"),
            "LOG_FORMAT": "text",
            "DATABASE_URL": url,
            "ENVIRONMENT": "test",
            "JWT_SECRET_KEY": TEST_JWT_SECRET,
            "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        }
        full_env = {**os.environ, **env}
        ingest(fixture_corpus, full_env)
        subprocess.run(
            [sys.executable, "-m", "rag_chatbot", "users", "create", READER, "--password-stdin"],
            input=READER_PASSWORD,
            env=full_env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        process, base = start_server(root, env)
        sent = Sent()
        try:
            assert _request(sent, "GET", f"{base}/api/sessions", headers=CLIENT_TOKEN).is_success
            _upload(sent, base)
            _ask(sent, base)
            _refuse(sent, base)
            _slow_requests(sent, base)
            _fail_for_real(sent, base, postgres_admin, url.rsplit("/", 1)[1])
        finally:
            stop(process)  # its shutdown lines are part of what the commands read
        yield Logs(root / "logs", sent, (READER_PASSWORD, WRONG_PASSWORD, TEST_ADMIN_TOKEN))


def _records(lines: list[str]) -> list[list[str]]:
    """Lines grouped by record: a line that starts with a timestamp, then its indented ones."""
    records: list[list[str]] = []
    for line in lines:
        if line.startswith(" "):
            records[-1].append(line)
        else:
            assert re.match(r"\d{4}-\d\d-\d\dT", line), line
            records.append([line])
    return records


def test_grep_error_finds_the_errors_and_nothing_else(logs: Logs) -> None:
    records = _records(logs.app_log())
    errors = [r for r in records if r[0].split()[1] in ("ERROR", "CRITICAL_ERROR")]
    assert any('"unexpected error"' in r[0] and len(r) > 3 for r in errors)  # with traceback
    expected = [line for r in errors for line in r if "error" in line.lower()]
    assert logs.run(ERROR_LINES).splitlines() == expected
    assert logs.run(ERRORS).splitlines() == expected[-20:]
    # Start-up, requests, refusals and shut-down wrote many lines; none of them says "error".
    others = [line for r in records if r not in errors for line in r]
    assert len(others) > 30
    assert {r[0].split()[1] for r in records if r not in errors} <= {"INFO", "WARNING"}


def test_response_times_are_the_fifth_field_in_milliseconds(logs: Logs) -> None:
    printed = logs.run(TIMES).splitlines()
    assert all(re.fullmatch(r"\d+", value) for value in printed), printed
    assert [int(v) for v in printed] == sorted(int(v) for v in printed)
    access = (logs.path / "access.log").read_text(encoding="utf-8").splitlines()
    assert len(printed) == len(access)  # one line a request, in both files

    timed = {
        line.split("request_id=")[1]: line for line in logs.app_log() if "response_time" in line
    }
    for request_id, (status, client_ms) in logs.sent.requests.items():
        line = timed[request_id]
        assert f" status={status} " in line
        assert 0 <= int(line.split()[4]) <= client_ms + 1, (line, client_ms)
    # Besides ours, only the start-up check's health request.
    assert all("path=/api/health" in timed[i] for i in set(timed) - set(logs.sent.requests))


def test_awk_selects_exactly_the_slow_requests(logs: Logs) -> None:
    selected = logs.run(SLOW).splitlines()
    assert sorted(line.split("request_id=")[1] for line in selected) == sorted(logs.sent.slow)
    assert all(int(line.split()[4]) >= SLOW_SECONDS * 1000 - 50 for line in selected)


def test_chat_request_lines_count_the_questions(logs: Logs) -> None:
    assert int(logs.run(QUESTIONS)) == logs.sent.questions == 6


def test_grep_auth_finds_the_failed_logins_without_their_passwords(logs: Logs) -> None:
    printed = logs.run(AUTH).splitlines()
    failed = [line for line in printed if " WARNING rag_chatbot.auth auth_failed " in line]
    assert len(failed) == logs.sent.auth_failures
    login, unknown, refresh = failed
    assert f"action=login user={READER} client=127.0.0.1 " in login
    assert 'reason="wrong username or password"' in login
    assert 'user="nobody here" client=127.0.0.1' in unknown
    assert "action=refresh user=- client=127.0.0.1 " in refresh
    # The rest are the requests to /api/auth/..., refused or not.
    assert all(" response_time " in line for line in printed if line not in failed)
    assert all("path=/api/auth/" in line for line in printed if line not in failed)
    for path in [*logs.path.iterdir(), logs.path.parent / "serve.out"]:  # serve.out: stderr
        text = path.read_text(encoding="utf-8")
        assert not any(secret in text for secret in logs.password_texts), path


def test_grep_401_403_counts_the_refusals(logs: Logs) -> None:
    refused = [s for s, _ in logs.sent.requests.values() if s in (401, 403)]
    assert len(refused) == 5
    assert int(logs.run(REFUSALS)) == len(refused)
