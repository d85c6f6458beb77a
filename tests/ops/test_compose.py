"""docker-compose.yml and docker-compose.prod.yml, validated by Debian's docker-compose.

``docker-compose config`` needs no engine: it checks the files against the Compose schema,
interpolates variables and merges the override, and prints the result, which the tests read.
The files are copied into a scratch project with its own .env (never the repository's).
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag_chatbot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE = "docker-compose.yml"
PROD = "docker-compose.prod.yml"
SERVICES = {"backend", "frontend", "postgres", "redis", "qdrant"}
# Read by uvicorn (proxy headers), not by Settings.
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS", "POSTGRES_PASSWORD"}

pytestmark = pytest.mark.usefixtures("docker_compose_installed")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in (BASE, PROD):
        shutil.copy(ROOT / name, tmp_path / name)
    example = (ROOT / "deploy" / "env.example").read_text()
    filled = re.sub(r"^(\w+)=$", lambda m: f"{m[1]}={secrets.token_hex(24)}", example, flags=re.M)
    (tmp_path / ".env").write_text(filled)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "backend.env").write_text("LLM_API_KEY=\n")
    return tmp_path


def compose(project: Path, *files: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    args = ["docker-compose", "--project-directory", str(project)]
    for name in files:
        args += ["-f", str(project / name)]
    args += ["config", "-q"] if quiet else ["config"]
    return subprocess.run(args, cwd=project, capture_output=True, text=True, timeout=60)


def resolved(project: Path, *files: str) -> dict[str, Any]:
    result = compose(project, *files)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@pytest.mark.parametrize("files", [(BASE,), (BASE, PROD)])
def test_the_files_validate(project: Path, files: tuple[str, ...]) -> None:
    result = compose(project, *files, quiet=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_validation_catches_a_misspelt_key(project: Path) -> None:
    text = (project / PROD).read_text().replace("stop_grace_period:", "stop_grace_periods:")
    (project / PROD).write_text(text)
    result = compose(project, BASE, PROD, quiet=True)
    assert result.returncode != 0
    assert "stop_grace_periods" in result.stderr


def test_a_missing_secret_stops_the_configuration(project: Path) -> None:
    env = (project / ".env").read_text()
    (project / ".env").write_text(re.sub(r"^POSTGRES_PASSWORD=.*$", "", env, flags=re.M))
    result = compose(project, BASE, quiet=True)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_services_health_checks_and_start_order(project: Path) -> None:
    config = resolved(project, BASE)
    services = config["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    healthy = {"condition": "service_healthy"}
    assert services["backend"]["depends_on"] == {
        "postgres": healthy,
        "redis": healthy,
        "qdrant": healthy,
    }
    assert services["frontend"]["depends_on"] == {"backend": healthy}
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:")
    assert "rag-backend" in services["backend"]["networks"]["default"]["aliases"]
    assert services["frontend"]["build"]["target"] == "frontend"
    assert services["backend"]["build"]["target"] == "backend"
    # Only nginx is published; the backend is reached through it.
    assert "ports" not in services["backend"] and services["frontend"]["ports"]
    named = set(config["volumes"])
    assert named == {"backend-data", "postgres-data", "redis-data", "qdrant-data"}
    used = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith(("/", "."))  # "name:/path" is a named volume
    }
    assert used == named


def test_backend_settings_are_real_settings(project: Path) -> None:
    environment = resolved(project, BASE, PROD)["services"]["backend"]["environment"]
    assert environment["QDRANT_URL"] == "http://qdrant:6333"
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://rag:")
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert len(environment["JWT_SECRET_KEY"]) >= 32 and len(environment["ADMIN_TOKEN"]) >= 16
    known = {name.upper() for name in Settings.model_fields}
    unknown = set(environment) - known - NOT_SETTINGS
    assert not unknown, f"not settings of rag-chatbot: {sorted(unknown)}"


def test_production_adds_replicas_limits_restarts_and_secret_files(project: Path) -> None:
    services = resolved(project, BASE, PROD)["services"]
    assert services["backend"]["deploy"]["replicas"] >= 2
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert service["logging"]["options"]["max-size"], name
    backend = services["backend"]
    assert backend["environment"]["ENVIRONMENT"] == "production"
    assert "LLM_API_KEY" in backend["environment"]  # from secrets/backend.env


def test_no_secret_is_written_in_the_compose_files() -> None:
    for name in (BASE, PROD):
        text = (ROOT / name).read_text()
        for key in ("JWT_SECRET_KEY", "ADMIN_TOKEN", "LLM_API_KEY", "QDRANT_API_KEY"):
            assert not re.search(rf"^\s*{key}\s*:", text, re.M), f"{key} set in {name}"
        assert not re.search(r"^\s*POSTGRES_PASSWORD:\s*[^$\s]", text, re.M), name


@pytest.mark.parametrize("files", [(BASE,), (BASE, PROD)])
def test_the_backend_trusts_forwarded_addresses_from_nginx_alone(
    project: Path, files: tuple[str, ...]
) -> None:
    import ipaddress

    config = resolved(project, *files)
    backend, frontend = config["services"]["backend"], config["services"]["frontend"]
    proxy = frontend["networks"]["edge"]["ipv4_address"]
    assert set(frontend["networks"]) == {"edge"}
    assert backend["environment"]["FORWARDED_ALLOW_IPS"] == proxy  # never "*"
    assert "rag-backend" in backend["networks"]["edge"]["aliases"]
    (subnet,) = [c["subnet"] for c in config["networks"]["edge"]["ipam"]["config"]]
    assert ipaddress.ip_address(proxy) in ipaddress.ip_network(subnet)
