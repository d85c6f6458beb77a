"""Per-IP limits count the real client, through the shipped nginx and uvicorn's proxy trust.

Before: nginx appended to ``X-Forwarded-For`` and the backend trusted it from anyone
(``FORWARDED_ALLOW_IPS="*"``), so uvicorn took the leftmost address, which the client writes:
wrong logins and questions with forged addresses were never limited. Now nginx replaces the
header with the address it saw, and the backend trusts it from the proxy alone
(``FORWARDED_ALLOW_IPS=127.0.0.1`` here, the proxy's address or network in compose and
Kubernetes). Behind a balancer, nginx's trusted-proxies folder names it (the realip module).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nginx_support import start_nginx
from testing_secrets import TEST_JWT_SECRET

pytestmark = [pytest.mark.usefixtures("nginx_installed"), pytest.mark.slow, pytest.mark.integration]
AUTH_LIMIT, CHAT_LIMIT = 3, 5
# What docs/deployment.md tells an operator to drop in behind a balancer (here at 127.0.0.1).
BALANCER = """set_real_ip_from 127.0.0.1;
real_ip_header X-Forwarded-For;
real_ip_recursive on;
"""


@dataclass
class Edge:
    proxy: str  # the shipped config, clients straight in front of it
    balanced: str  # the same, behind a balancer at 127.0.0.1 named in trusted-proxies/
    backend: str


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path) -> Iterator[Edge]:
    from servers import free_port, ingest, start_server, stop

    root = tmp_path_factory.mktemp("addresses")
    env = {
        "DATA_DIR": str(root / "data"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "RATE_LIMIT_AUTH": f"{AUTH_LIMIT}/minute",
        "RATE_LIMIT_CHAT": f"{CHAT_LIMIT}/minute",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the proxy's address, as compose/k8s name theirs
    }
    ingest(fixture_corpus, {**os.environ, **env})
    server, backend = start_server(root, env)
    backend_port = int(backend.rsplit(":", 1)[1])
    started: list[subprocess.Popen[bytes]] = []
    try:
        proxy_port, balanced_port = free_port(), free_port()
        started.append(start_nginx(root / "proxy", backend_port, proxy_port))
        trusted = root / "balanced" / "trusted-proxies"
        trusted.mkdir(parents=True)
        (trusted / "balancer.conf").write_text(BALANCER)
        started.append(start_nginx(root / "balanced", backend_port, balanced_port))
        yield Edge(f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{balanced_port}", backend)
    finally:
        for nginx in started:
            nginx.terminate()
            nginx.wait(timeout=30)
        stop(server)


def _login(url: str, n: int, forwarded: str | None, local: str = "127.0.0.1") -> httpx.Response:
    """A wrong login for a fresh name each time, so only the per-IP budget can refuse it."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    transport = httpx.HTTPTransport(local_address=local)
    with httpx.Client(transport=transport, timeout=30) as http:
        return http.post(
            f"{url}/api/auth/login",
            json={"username": f"user{n}-{os.urandom(3).hex()}", "password": "wrong password"},
            headers=headers,
        )


def _fresh_window(room: float = 20.0) -> None:
    """Start in a new minute if this one is nearly over: the budgets count per minute."""
    left = 60 - time.time() % 60
    if left < room:
        time.sleep(left + 0.05)


def _refused_by_backend(response: httpx.Response) -> bool:
    """A 429 of the backend's per-IP budget (nginx's own 429s are HTML)."""
    return response.status_code == 429 and response.json()["error_code"] == "RATE_LIMIT_EXCEEDED"


def test_forged_addresses_through_nginx_are_limited_as_one_client(edge: Edge) -> None:
    _fresh_window()
    answers = [_login(edge.proxy, n, f"198.51.100.{n}") for n in range(15)]
    assert [a.status_code for a in answers[:AUTH_LIMIT]] == [401] * AUTH_LIMIT
    assert all(_refused_by_backend(a) for a in answers[AUTH_LIMIT:])

    questions = [
        httpx.post(
            f"{edge.proxy}/api/chat",
            json={"message": "When does the fog horn sound?"},
            headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"203.0.113.{n}"},
            timeout=30,
        )
        for n in range(CHAT_LIMIT + 3)
    ]
    assert [q.status_code for q in questions[:CHAT_LIMIT]] == [200] * CHAT_LIMIT
    assert all(_refused_by_backend(q) for q in questions[CHAT_LIMIT:])


def test_the_backend_trusts_the_header_from_the_proxy_alone(edge: Edge) -> None:
    _fresh_window()
    # 127.0.0.2 is not the proxy: what it writes in X-Forwarded-For is ignored, and its own
    # address is counted.
    answers = [_login(edge.backend, n, f"192.0.2.{n}", local="127.0.0.2") for n in range(5)]
    assert [a.status_code for a in answers[:AUTH_LIMIT]] == [401] * AUTH_LIMIT
    assert all(_refused_by_backend(a) for a in answers[AUTH_LIMIT:])
    assert _login(edge.backend, 99, None, local="127.0.0.3").status_code == 401  # its own budget


def test_behind_a_trusted_balancer_each_client_has_its_own_budget(edge: Edge) -> None:
    _fresh_window()
    client, other = "198.18.0.1", "198.18.0.2"
    answers = [_login(edge.balanced, n, client) for n in range(AUTH_LIMIT + 1)]
    assert [a.status_code for a in answers[:AUTH_LIMIT]] == [401] * AUTH_LIMIT
    assert _refused_by_backend(answers[AUTH_LIMIT])
    # A client that prepends a forged hop is still counted at the address the balancer saw.
    assert _refused_by_backend(_login(edge.balanced, 50, f"10.9.9.9, {client}"))
    # Another client behind the same balancer is not refused for the first one's attempts.
    assert _login(edge.balanced, 51, other).status_code == 401
