"""docker-compose's two nginx hops, run here as real nginx on local ports, for tests.

- The frontend: the shipped site (deploy/nginx/rag-chatbot.conf, through ``nginx_support``)
  with what the frontend image and compose add around it: mime types, the web UI's files at
  the site's static root, and deploy/nginx/edge-realip.conf.template rendered by ``envsubst``
  into the http block, as the nginx image's entrypoint does.
- The edge: deploy/nginx/edge.conf (plain HTTP) and edge-tls.conf (HTTPS with a self-signed
  certificate, and the redirect), their upstream and listen addresses moved to local ports.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from nginx_support import NGINX, main_config, write_config

ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = ROOT / "deploy" / "nginx"
STATIC_ROOT = "root /usr/share/nginx/rag-chatbot;"  # the frontend image's copy of web/
MIME_TYPES = "/etc/nginx/mime.types"


@dataclass
class EdgePorts:
    http: int  # edge.conf's plain port (8080 in the container)
    https: int  # edge-tls.conf's 443
    redirect: int  # edge-tls.conf's 80


def render_realip(edge_address: str) -> str:
    """The template as the frontend container's entrypoint writes it (EDGE_NGINX_IP set)."""
    template = (NGINX_DIR / "edge-realip.conf.template").read_text()
    return subprocess.run(
        ["envsubst"],
        input=template,
        env={"EDGE_NGINX_IP": edge_address},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def write_frontend(
    prefix: Path, backend_port: int, listen_port: int, web_dir: Path, edge_address: str
) -> Path:
    """The frontend's nginx.conf: the shipped site, its files from ``web_dir``/static."""
    config = write_config(prefix, backend_port, listen_port)
    site = prefix / "site.conf"
    text = site.read_text()
    assert STATIC_ROOT in text
    site.write_text(text.replace(STATIC_ROOT, f"root {web_dir};"))
    (prefix / "edge-realip.conf").write_text(render_realip(edge_address))
    main = config.read_text()
    include_site = f"include {site};"
    main = main.replace(
        include_site,
        f"include {MIME_TYPES};\n    include {prefix / 'edge-realip.conf'};\n    {include_site}",
    )
    config.write_text(main)
    return config


def self_signed_certificate(directory: Path) -> Path:
    """cert.pem and key.pem for 127.0.0.1 in ``directory`` (what /etc/nginx/ssl holds)."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return directory / "cert.pem"


def write_edge(prefix: Path, frontend_port: int, ports: EdgePorts, tls: bool = True) -> Path:
    """The edge's nginx.conf: edge.conf (+ edge-tls.conf), the certificate in prefix/ssl."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    plain = (NGINX_DIR / "edge.conf").read_text()
    assert "server frontend:8080" in plain and "listen 8080;" in plain
    plain = plain.replace("server frontend:8080", f"server 127.0.0.1:{frontend_port}")
    plain = plain.replace("listen 8080;", f"listen 127.0.0.1:{ports.http};")
    (prefix / "edge.conf").write_text(plain)
    includes = [prefix / "edge.conf"]
    if tls:
        secure = (NGINX_DIR / "edge-tls.conf").read_text()
        assert "listen 443 ssl;" in secure and "listen 80;" in secure
        secure = secure.replace("listen 443 ssl;", f"listen 127.0.0.1:{ports.https} ssl;")
        secure = secure.replace("listen 80;", f"listen 127.0.0.1:{ports.redirect};")
        secure = secure.replace("/etc/nginx/ssl/", f"{prefix / 'ssl'}/")
        self_signed_certificate(prefix / "ssl")
        (prefix / "edge-tls.conf").write_text(secure)
        includes.append(prefix / "edge-tls.conf")
    return main_config(prefix, [Path(MIME_TYPES), *includes])


def nginx_test(prefix: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
