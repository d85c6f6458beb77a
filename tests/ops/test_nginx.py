"""deploy/nginx/rag-chatbot.conf: ``nginx -t``, then real nginx in front of a real server.

How the shipped file is run on local ports: ``nginx_support.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from nginx_support import CONF, NGINX, start_nginx, write_config
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


def test_the_body_limit_matches_the_upload_limit_everywhere() -> None:
    site = CONF.read_text()
    limits = set(re.findall(r"client_max_body_size (\d+)m;", site))
    default = Settings.model_fields["max_upload_mb"].default
    assert limits == {str(default + 1)}  # one MB of multipart framing on top
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["backend"]["environment"]["MAX_UPLOAD_MB"] == str(default)
    configmap = yaml.safe_load((ROOT / "deploy" / "k8s" / "configmap.yaml").read_text())
    assert configmap["data"]["MAX_UPLOAD_MB"] == str(default)
    ingress = yaml.safe_load((ROOT / "deploy" / "k8s" / "ingress.yaml").read_text())
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == f"{default + 1}m"
    chat = site[site.index("location = /api/chat") :]
    chat = chat[: chat.index("}")]
    assert "proxy_buffering off;" in chat and "gzip off;" in chat


@pytest.fixture(scope="module")
def proxied(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path
) -> Iterator[tuple[str, Path]]:
    """nginx (the shipped config) in front of `rag-chatbot serve` with the fixture corpus."""
    from servers import free_port, ingest, start_server, stop

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
    port = free_port()
    try:
        nginx = start_nginx(root / "nginx", int(base.rsplit(":", 1)[1]), port)
        try:
            yield f"http://127.0.0.1:{port}", root
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)
    finally:
        stop(server)


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
    # nginx's $request_id reaches the backend, which echoes it: one id in both logs.
    assert re.fullmatch(r"[0-9a-f]{32}", health.headers["x-request-id"])
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
    log = (root / "nginx" / "logs" / "error.log").read_text()
    assert "limiting requests" in log
