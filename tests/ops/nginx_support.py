"""Real nginx with the shipped site (deploy/nginx/rag-chatbot.conf) on local ports, for tests.

The shipped file is what operators run; only its upstream, listen address and trusted-proxies
folder are pointed at the test's own, inside a minimal main configuration (pid, logs and
temporary files in a scratch directory), as the nginx image's own nginx.conf includes it in
``http {}``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "rag-chatbot.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TRUSTED_PROXIES = "include /etc/nginx/trusted-proxies/*.conf;"


def write_config(prefix: Path, backend_port: int, listen_port: int) -> Path:
    """The shipped site, its trusted-proxies folder moved to ``prefix/trusted-proxies``."""
    site = CONF.read_text()
    assert "server rag-backend:8000" in site and "listen 8080;" in site
    assert TRUSTED_PROXIES in site
    site = site.replace("server rag-backend:8000", f"server 127.0.0.1:{backend_port}")
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen_port};")
    (prefix / "trusted-proxies").mkdir(parents=True, exist_ok=True)
    site = site.replace(TRUSTED_PROXIES, f"include {prefix / 'trusted-proxies'}/*.conf;")
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "site.conf").write_text(site)
    return main_config(prefix, [prefix / "site.conf"])


def main_config(prefix: Path, includes: list[Path]) -> Path:
    """``prefix/nginx.conf``: one worker, logs and temporary files under ``prefix``, then
    ``includes`` inside ``http``."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    lines = "\n    ".join(f"include {path};" for path in includes)
    (prefix / "nginx.conf").write_text(
        f"""
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "logs" / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log {prefix / "logs" / "access.log"};
    {temp}
    {lines}
}}
"""
    )
    return prefix / "nginx.conf"


def start_nginx(prefix: Path, backend_port: int, listen_port: int) -> subprocess.Popen[bytes]:
    """nginx in the foreground on ``listen_port``, answering its health check."""
    return run_nginx(prefix, write_config(prefix, backend_port, listen_port), listen_port)


def run_nginx(prefix: Path, config: Path, health_port: int) -> subprocess.Popen[bytes]:
    """nginx in the foreground, once it answers /nginx-health on ``health_port``."""
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{health_port}/nginx-health", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise AssertionError((prefix / "logs" / "error.log").read_text())
