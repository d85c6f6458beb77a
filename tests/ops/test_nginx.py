"""deploy/nginx: ``nginx -t`` on each file, then real nginx in front of a real server.

The frontend's site (rag-chatbot.conf) alone, as Kubernetes runs it behind an ingress, and
compose's chain: the edge (edge.conf, edge-tls.conf: HTTPS, the redirect) in front of the
frontend, which serves the web UI's files and trusts the edge's X-Forwarded-For alone. How the
files are run on local ports: ``nginx_support.py`` and ``edge_support.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from edge_support import (
    EdgePorts,
    nginx_test,
    write_edge,
    write_frontend,
)
from nginx_support import CONF, NGINX, run_nginx, start_nginx, write_config
from sse import sse_events
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("nginx_installed")


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    config = write_config(tmp_path, 18000, 18080)
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_nginx_rejects_a_broken_configuration(tmp_path: Path) -> None:
    config = write_config(tmp_path, 18000, 18080)
    site = tmp_path / "site.conf"
    site.write_text(site.read_text().replace("proxy_buffering off;", "proxy_buffering of;"))
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode != 0


def test_the_edge_and_the_frontend_with_its_compose_additions_pass_nginx_t(
    tmp_path: Path,
) -> None:
    web = ROOT / "src" / "rag_chatbot" / "web"
    frontend = write_frontend(tmp_path / "frontend", 18000, 18080, web, "172.31.240.20")
    checked = nginx_test(tmp_path / "frontend", frontend)
    assert checked.returncode == 0, checked.stderr
    for tls in (False, True):  # docker-compose.yml's edge, then docker-compose.prod.yml's
        prefix = tmp_path / f"edge-{tls}"
        config = write_edge(prefix, 18080, EdgePorts(18081, 18443, 18082), tls=tls)
        checked = nginx_test(prefix, config)
        assert checked.returncode == 0, checked.stderr


def test_the_body_limit_matches_the_upload_limit_everywhere() -> None:
    default = Settings.model_fields["max_upload_mb"].default
    for conf in (CONF, ROOT / "deploy" / "nginx" / "edge.conf"):
        limits = set(re.findall(r"client_max_body_size (\d+)m;", conf.read_text()))
        assert limits == {str(default + 1)}, conf  # one MB of multipart framing on top
    site = CONF.read_text()
    compose_defaults = (ROOT / "deploy" / "compose" / "backend.env").read_text()
    assert f"\nMAX_UPLOAD_MB={default}\n" in compose_defaults
    configmap = yaml.safe_load((ROOT / "deploy" / "k8s" / "configmap.yaml").read_text())
    assert configmap["data"]["MAX_UPLOAD_MB"] == str(default)
    ingress = yaml.safe_load((ROOT / "deploy" / "k8s" / "ingress.yaml").read_text())
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == f"{default + 1}m"
    chat = site[site.index("location = /api/chat") :]
    chat = chat[: chat.index("}")]
    assert "proxy_buffering off;" in chat and "gzip off;" in chat


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path
) -> Iterator[tuple[int, Path]]:
    """`rag-chatbot serve` with the fixture corpus: its port and its scratch directory."""
    from servers import ingest, start_server, stop

    root = tmp_path_factory.mktemp("nginx")
    env = {
        "DATA_DIR": str(root / "data"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "ENABLE_GZIP": "false",  # so compression seen below is nginx's
        "ENABLE_RATE_LIMIT": "false",  # so 429s seen below are nginx's
    }
    ingest(fixture_corpus, {**os.environ, **env})
    server, base = start_server(root, env)
    try:
        yield int(base.rsplit(":", 1)[1]), root
    finally:
        stop(server)


@pytest.fixture(scope="module")
def proxied(backend: tuple[int, Path]) -> Iterator[tuple[str, Path]]:
    """nginx (the shipped site) in front of the backend, as rag-frontend runs it."""
    from servers import free_port

    backend_port, root = backend
    port = free_port()
    nginx = start_nginx(root / "proxy", backend_port, port)
    try:
        yield f"http://127.0.0.1:{port}", root / "proxy"
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.integration
def test_security_headers_request_ids_and_gzip(proxied: tuple[str, Path]) -> None:
    url, _ = proxied
    health = httpx.get(f"{url}/api/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert health.headers.get_list("x-frame-options") == ["DENY"]
    assert health.headers.get_list("x-content-type-options") == ["nosniff"]
    assert health.headers["referrer-policy"] == "same-origin"
    assert health.headers["strict-transport-security"].startswith("max-age=")
    assert "server" not in health.headers or health.headers["server"] == "nginx"
    # The backend's own id (a client's is dropped): no digits to read as a status in grep.
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz]{26}", health.headers["x-request-id"])
    spec = httpx.get(f"{url}/openapi.json", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert spec.headers["content-encoding"] == "gzip" and spec.json()["paths"]
    metrics = httpx.get(f"{url}/api/metrics", timeout=10)  # 127.0.0.1 is allowed
    assert metrics.status_code == 200 and "http_requests_total" in metrics.text


@pytest.mark.slow
@pytest.mark.integration
def test_answers_stream_through_unbuffered_and_uncompressed(proxied: tuple[str, Path]) -> None:
    url, _ = proxied
    with httpx.stream(
        "POST",
        f"{url}/api/chat",
        json={"message": "When does the fog horn sound?", "stream": True},
        headers={"Accept-Encoding": "gzip"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        events = sse_events(response.iter_lines())
    assert events[-1][0] == "answer"
    final = events[-1][1]
    assert final["grounded"] is True
    assert final["citations"][0]["url"] == "/read/lighthouse.md#fog-signals"  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.integration
def test_oversized_uploads_and_floods_are_stopped_by_nginx(proxied: tuple[str, Path]) -> None:
    url, root = proxied
    too_big = httpx.post(
        f"{url}/api/documents",
        content=b"x" * (52 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert too_big.status_code == 413
    statuses = [
        httpx.post(f"{url}/api/chat", json={"message": "fog horn?"}, timeout=30).status_code
        for _ in range(25)
    ]
    assert statuses[0] == 200
    assert 429 in statuses  # 2 a second with a burst of 10, per address
    assert set(statuses) <= {200, 429}
    log = (root / "logs" / "error.log").read_text()
    assert "limiting requests" in log


@dataclass
class Chain:
    """compose's nginx -> frontend -> backend, on local ports."""

    edge: EdgePorts
    frontend: Path  # its prefix: logs/access.log
    certificate: Path
    backend_port: int


@pytest.fixture(scope="module")
def chain(backend: tuple[int, Path]) -> Iterator[Chain]:
    """The edge with TLS in front of the frontend, whose static root lacks chat.css."""
    from servers import free_port

    backend_port, root = backend
    # Outside pytest's private tree: nginx's workers (nobody, under root) must read the files.
    web = Path(tempfile.mkdtemp(prefix="rag-frontend-web-"))
    web.chmod(0o755)
    shutil.copytree(ROOT / "src" / "rag_chatbot" / "web" / "static", web / "static")
    (web / "static" / "css" / "chat.css").unlink()  # as an older frontend image would
    frontend_port = free_port()
    ports = EdgePorts(free_port(), free_port(), free_port())
    # The edge connects from 127.0.0.1: the address the frontend is told to trust.
    config = write_frontend(root / "frontend", backend_port, frontend_port, web, "127.0.0.1")
    started = [run_nginx(root / "frontend", config, frontend_port)]
    try:
        edge = write_edge(root / "edge", frontend_port, ports)
        started.append(run_nginx(root / "edge", edge, ports.http))
        yield Chain(ports, root / "frontend", root / "edge" / "ssl" / "cert.pem", backend_port)
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(web, ignore_errors=True)


def _https(chain: Chain, local: str = "127.0.0.1") -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(chain.certificate))
    transport = httpx.HTTPTransport(verify=trust, local_address=local)
    return httpx.Client(
        transport=transport, base_url=f"https://127.0.0.1:{chain.edge.https}", timeout=30
    )


@pytest.mark.slow
@pytest.mark.integration
def test_https_at_the_edge_reaches_the_backend_and_plain_http_is_redirected(
    chain: Chain,
) -> None:
    with _https(chain) as client:
        health = client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert health.headers["strict-transport-security"].startswith("max-age=")
    redirected = httpx.get(f"http://127.0.0.1:{chain.edge.redirect}/api/health?x=1", timeout=10)
    assert redirected.status_code == 301
    assert redirected.headers["location"] == "https://127.0.0.1/api/health?x=1"
    local = httpx.get(f"http://127.0.0.1:{chain.edge.http}/api/health", timeout=10)
    assert local.status_code == 200  # the host's own plain port, for smoke tests


@pytest.mark.slow
@pytest.mark.integration
def test_the_frontend_counts_the_client_the_edge_saw(chain: Chain) -> None:
    marker = f"probe={uuid.uuid4().hex}"
    with _https(chain, local="127.0.0.5") as client:
        forged = {"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.7"}
        assert client.get(f"/api/health?{marker}", headers=forged).status_code == 200
    # nginx writes its log line after the response has left, so the client can be faster.
    log = chain.frontend / "logs" / "access.log"
    deadline = time.monotonic() + 10
    while not (lines := [x for x in log.read_text().splitlines() if marker in x]):
        assert time.monotonic() < deadline, "the frontend never logged the request"
        time.sleep(0.05)
    assert lines[0].split()[0] == "127.0.0.5"  # not the edge (127.0.0.1), not the forged one


@pytest.mark.slow
@pytest.mark.integration
def test_the_frontend_serves_the_ui_files_and_asks_the_backend_for_missing_ones(
    chain: Chain,
) -> None:
    static = ROOT / "src" / "rag_chatbot" / "web" / "static"
    with _https(chain) as client:
        script = client.get("/static/js/app.js?v=1")
        widget = client.get("/widget.js")
        missing_here = client.get("/static/css/chat.css")
        nowhere = client.get("/static/js/nothing.js")
    for response, source in ((script, "js/app.js"), (widget, "widget.js")):
        assert response.status_code == 200
        assert response.content == (static / source).read_bytes()
        assert "javascript" in response.headers["content-type"]
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["cross-origin-resource-policy"] == "cross-origin"
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
        assert "x-request-id" not in response.headers  # nginx's own: the backend never saw it
    assert missing_here.status_code == 200  # from the backend, which echoes the request id
    assert missing_here.content == (static / "css" / "chat.css").read_bytes()
    assert "x-request-id" in missing_here.headers
    assert nowhere.status_code == 404
