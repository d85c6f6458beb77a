"""docker-compose.yml and docker-compose.prod.yml, validated by Debian's docker-compose 1.29.

``docker-compose config`` needs no engine: it checks a file against the Compose schema,
interpolates variables, reads the env files, merges, and prints the result, which the tests
read. Each test works in a scratch copy of the project with its own ``.env`` and ``.env.prod``
(never the repository's). The production file is complete on its own; the old pair
``-f docker-compose.yml -f docker-compose.prod.yml`` still validates.
"""

from __future__ import annotations

import ipaddress
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
SERVICES = {
    "nginx",
    "frontend",
    "backend",
    "worker",
    "postgres",
    "redis",
    "qdrant",
    "node-exporter",
}
# Read by uvicorn (proxy headers), by libpq (psql, pg_dump, psycopg) or by the postgres image.
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS", "POSTGRES_PASSWORD"} | {
    f"PG{name}" for name in ("HOST", "PORT", "USER", "DATABASE", "PASSWORD")
}
# What the runbook appends to .env.prod before `docker-compose -f docker-compose.prod.yml up -d`.
RUNBOOK_LINES = {
    "ENABLE_RESPONSE_CACHE": "true",
    "ENABLE_GZIP": "true",
    "EMBEDDING_BATCH_SIZE": "32",
    "DB_POOL_SIZE": "20",
    "DB_MAX_OVERFLOW": "30",
    "REDIS_URL": "redis://redis:6379/0",
    "CACHE_TTL": "3600",
}

pytestmark = pytest.mark.usefixtures("docker_compose_installed")


def _filled(example: str) -> str:
    """An env example with a random secret in every empty ``NAME=`` line."""
    return re.sub(r"^(\w+)=$", lambda m: f"{m[1]}={secrets.token_hex(24)}", example, flags=re.M)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in (BASE, PROD):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    (tmp_path / ".env").write_text(_filled((ROOT / "deploy" / "env.example").read_text()))
    prod = _filled((ROOT / "deploy" / "env.prod.example").read_text())
    password = re.search(r"^POSTGRES_PASSWORD=(.*)$", prod, re.M)
    assert password
    prod = re.sub(r"^PGPASSWORD=.*$", f"PGPASSWORD={password[1]}", prod, flags=re.M)
    (tmp_path / ".env.prod").write_text(prod)
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


def append(path: Path, lines: dict[str, str]) -> None:
    """``echo "NAME=value" >> FILE``, a line each, as the runbook does."""
    with path.open("a") as env:
        env.writelines(f"{name}={value}\n" for name, value in lines.items())


@pytest.mark.parametrize("files", [(BASE,), (PROD,), (BASE, PROD)])
def test_the_files_validate(project: Path, files: tuple[str, ...]) -> None:
    if files == (PROD,):
        (project / ".env").unlink()  # production needs .env.prod alone
    result = compose(project, *files, quiet=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_validation_catches_a_misspelt_key(project: Path) -> None:
    text = (project / PROD).read_text().replace("stop_grace_period:", "stop_grace_periods:")
    (project / PROD).write_text(text)
    result = compose(project, PROD, quiet=True)
    assert result.returncode != 0
    assert "stop_grace_periods" in result.stderr


def test_a_missing_secret_or_env_file_stops_the_configuration(project: Path) -> None:
    env = (project / ".env").read_text()
    (project / ".env").write_text(re.sub(r"^POSTGRES_PASSWORD=.*$", "", env, flags=re.M))
    result = compose(project, BASE, quiet=True)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr
    (project / ".env.prod").unlink()
    result = compose(project, PROD, quiet=True)
    assert result.returncode != 0
    assert ".env.prod" in result.stderr


@pytest.mark.parametrize("name", [BASE, PROD])
def test_services_health_checks_and_start_order(project: Path, name: str) -> None:
    config = resolved(project, name)
    services = config["services"]
    assert set(services) == SERVICES
    for service_name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{service_name} has no health check"
        assert "container_name" not in service, service_name
    healthy = {"condition": "service_healthy"}
    assert services["backend"]["depends_on"] == {
        "postgres": healthy,
        "redis": healthy,
        "qdrant": healthy,
    }
    assert services["frontend"]["depends_on"] == {"backend": healthy}
    assert services["nginx"]["depends_on"] == {"frontend": healthy}
    assert services["frontend"]["build"]["target"] == "frontend"
    assert services["backend"]["build"]["target"] == "backend"
    assert services["nginx"]["image"].startswith("nginx:")
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:")
    assert "rag-backend" in services["backend"]["networks"]["default"]["aliases"]
    named = set(config["volumes"])
    assert named == {"backend-data", "backend-logs", "postgres-data", "redis-data", "qdrant-data"}
    used = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith(("/", "."))  # "name:/path" is a named volume
    }
    assert used == named
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(str(project / "deploy")):  # files of this repository
                assert Path(source).exists(), source


@pytest.mark.parametrize("name", [BASE, PROD])
def test_the_backend_can_be_scaled(project: Path, name: str) -> None:
    """`up -d --scale backend=3`: no fixed name or host port may clash between replicas."""
    services = resolved(project, name)["services"]
    published = {n for n, service in services.items() if service.get("ports")}
    assert published == {"nginx", "node-exporter"}
    assert services["backend"]["expose"] == ["8000"]
    raw = yaml.safe_load((ROOT / name).read_text())["services"]["backend"]
    assert not {"container_name", "ports", "hostname"} & set(raw)


def test_env_prod_settings_reach_the_backend_and_the_last_line_wins(project: Path) -> None:
    new_secret = secrets.token_hex(32)
    append(project / ".env.prod", RUNBOOK_LINES)
    append(project / ".env.prod", {"JWT_SECRET_KEY": new_secret})  # regenerated: appended
    (project / ".env").unlink()
    environment = resolved(project, PROD)["services"]["backend"]["environment"]
    for name, value in {**RUNBOOK_LINES, "JWT_SECRET_KEY": new_secret}.items():
        assert environment[name] == value, name


def test_nothing_in_the_production_file_pins_a_setting(project: Path) -> None:
    raw = yaml.safe_load((ROOT / PROD).read_text())["services"]["backend"]
    assert set(raw.get("environment", {})) == {"FORWARDED_ALLOW_IPS"}  # the network's, not ours
    text = re.sub(r"#.*", "", (ROOT / PROD).read_text())  # comments may name them
    for name in ("DB_POOL_SIZE", "DB_MAX_OVERFLOW", "ENVIRONMENT", "LOG_LEVEL", "DATABASE_URL"):
        assert name not in text, name
    # Every default the compose files give (deploy/compose/backend.env) yields to .env.prod.
    defaults = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "compose" / "backend.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    overrides = {name: f"{value}-changed" for name, value in defaults.items()}
    overrides["DATABASE_URL"] = "postgresql://rag:pw@db.example.internal:5432/rag"
    append(project / ".env.prod", overrides)
    environment = resolved(project, PROD)["services"]["backend"]["environment"]
    for name, value in overrides.items():
        assert environment[name] == value, name


@pytest.mark.parametrize("files", [(BASE,), (PROD,), (BASE, PROD)])
def test_backend_settings_are_real_settings_with_a_plain_database_url(
    project: Path, files: tuple[str, ...]
) -> None:
    from sqlalchemy.engine import make_url

    from rag_chatbot.config import check_database_url

    services = resolved(project, *files)["services"]
    environment = services["backend"]["environment"]
    assert environment["QDRANT_URL"] == "http://qdrant:6333"
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    url = environment["DATABASE_URL"]
    # The libpq form psql and pg_dump take; the password is PGPASSWORD, which libpq reads.
    assert url == "postgresql://rag@postgres:5432/rag"
    check_database_url(url)
    assert make_url(url).get_dialect().driver == "psycopg"
    assert environment["PGPASSWORD"] == services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert (environment["PGHOST"], environment["PGUSER"], environment["PGDATABASE"]) == (
        "postgres",
        "rag",
        "rag",
    )
    assert len(environment["JWT_SECRET_KEY"]) >= 32 and len(environment["ADMIN_TOKEN"]) >= 16
    known = {name.upper() for name in Settings.model_fields}
    unknown = set(environment) - known - NOT_SETTINGS
    assert not unknown, f"not settings of rag-chatbot: {sorted(unknown)}"


def test_no_file_ships_the_driver_specific_url_form() -> None:
    shipped = [ROOT / BASE, ROOT / PROD, ROOT / "docs" / "deployment.md"]
    shipped += [p for p in (ROOT / "deploy").rglob("*") if p.is_file()]
    for path in shipped:
        # Naming the other accepted scheme is fine; a URL written in it is not.
        assert not re.search(r"postgresql\+psycopg://[\w$]", path.read_text()), path


def test_production_adds_restarts_limits_log_rotation_and_replicas(project: Path) -> None:
    services = resolved(project, PROD)["services"]
    assert services["backend"]["deploy"]["replicas"] >= 2
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert service["logging"]["options"]["max-size"], name


def test_no_secret_is_written_in_the_compose_files() -> None:
    files = [ROOT / BASE, ROOT / PROD, ROOT / "deploy" / "compose" / "backend.env"]
    for path in files:
        text = path.read_text()
        for key in ("JWT_SECRET_KEY", "ADMIN_TOKEN", "LLM_API_KEY", "QDRANT_API_KEY"):
            assert not re.search(rf"^\s*{key}\s*[:=]", text, re.M), f"{key} set in {path}"
        assert not re.search(r"^\s*(POSTGRES_PASSWORD|PGPASSWORD)\s*[:=]\s*[^$\s]", text, re.M)
        assert not re.search(r"postgresql://[^@\s/]*:[^@\s]*@", text), path  # no password in a URL


@pytest.mark.parametrize("files", [(BASE,), (PROD,), (BASE, PROD)])
def test_forwarded_addresses_are_trusted_hop_by_hop(project: Path, files: tuple[str, ...]) -> None:
    """nginx -> frontend -> backend: each trusts X-Forwarded-For from the hop before alone."""
    config = resolved(project, *files)
    services = config["services"]
    nginx, frontend, backend = (services[n] for n in ("nginx", "frontend", "backend"))
    edge_nginx = nginx["networks"]["edge"]["ipv4_address"]
    proxy = frontend["networks"]["edge"]["ipv4_address"]
    assert set(frontend["networks"]) == set(nginx["networks"]) == {"edge"}
    assert backend["environment"]["FORWARDED_ALLOW_IPS"] == proxy  # never "*"
    assert frontend["environment"]["EDGE_NGINX_IP"] == edge_nginx
    assert "rag-backend" in backend["networks"]["edge"]["aliases"]
    (subnet,) = [c["subnet"] for c in config["networks"]["edge"]["ipam"]["config"]]
    assert {ipaddress.ip_address(a) in ipaddress.ip_network(subnet) for a in (proxy, edge_nginx)}
    assert proxy != edge_nginx
    # The nginx image's entrypoint writes the template into conf.d with the variable filled in.
    (template,) = [v for v in frontend["volumes"] if "/etc/nginx/templates/" in v]
    source = Path(template.split(":")[0])
    rendered = subprocess.run(
        ["envsubst"],
        input=source.read_text(),
        env={"EDGE_NGINX_IP": edge_nginx},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    directives = [line for line in rendered.splitlines() if line and not line.startswith("#")]
    assert directives == [
        f"set_real_ip_from {edge_nginx};",
        "real_ip_header X-Forwarded-For;",
        "real_ip_recursive on;",
    ]


def test_production_terminates_tls_with_the_hosts_certificate(project: Path) -> None:
    nginx = resolved(project, PROD)["services"]["nginx"]
    published = {
        (str(p.get("published", "")), p.get("target"))
        for p in nginx["ports"]
        if isinstance(p, dict)
    }
    assert {("80", 80), ("443", 443)} <= published
    # The plain port answers the host alone (smoke tests); never published to the world.
    assert "127.0.0.1:8080:8080/tcp" in nginx["ports"]
    assert "/etc/nginx/ssl:/etc/nginx/ssl:ro" in nginx["volumes"]
    mounted = {v.split(":")[1]: Path(v.split(":")[0]) for v in nginx["volumes"]}
    tls = mounted["/etc/nginx/conf.d/tls.conf"].read_text()
    assert "ssl_certificate /etc/nginx/ssl/cert.pem;" in tls
    assert "ssl_certificate_key /etc/nginx/ssl/key.pem;" in tls
    base = resolved(project, BASE)["services"]["nginx"]
    assert not any("ssl" in v for v in base["volumes"])  # trying it out needs no certificate


@pytest.mark.parametrize("name", [BASE, PROD])
def test_the_backend_writes_its_log_files_to_a_volume(project: Path, name: str) -> None:
    config = resolved(project, name)
    backend = config["services"]["backend"]
    assert "backend-logs:/var/log/rag-chatbot:rw" in backend["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "LOG_DIR=/var/log/rag-chatbot" in dockerfile  # the image's setting, not overridden
    assert "LOG_DIR" not in backend["environment"]
    if name == PROD:
        # The host's own directory, where logrotate and the runbook's grep look.
        options = config["volumes"]["backend-logs"]["driver_opts"]
        assert options == {"type": "none", "o": "bind", "device": "/var/log/rag-chatbot"}


@pytest.mark.parametrize("name", [BASE, PROD])
def test_node_exporter_reads_the_textfile_directory(
    project: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = resolved(project, name)["services"]["node-exporter"]
    flag = "--collector.textfile.directory="
    (directory,) = [a.removeprefix(flag) for a in exporter["command"] if a.startswith(flag)]
    assert f"{project / 'metrics'}:{directory}:ro" in exporter["volumes"]
    assert "127.0.0.1:9100:9100/tcp" in exporter["ports"]
    assert (
        "--path.rootfs=/host" in exporter["command"] and "/:/host:ro,rslave" in exporter["volumes"]
    )
    monkeypatch.setenv("METRICS_TEXTFILE_DIR", "/var/lib/node_exporter/textfile_collector")
    exporter = resolved(project, name)["services"]["node-exporter"]
    assert f"/var/lib/node_exporter/textfile_collector:{directory}:ro" in exporter["volumes"]


@pytest.mark.parametrize("name", [BASE, PROD])
def test_postgres_loads_pg_stat_statements_and_creates_its_view(project: Path, name: str) -> None:
    postgres = resolved(project, name)["services"]["postgres"]
    command = postgres["command"]
    assert command[0] == "postgres"
    assert "shared_preload_libraries=pg_stat_statements" in command
    (initdb,) = [v for v in postgres["volumes"] if ":/docker-entrypoint-initdb.d" in v]
    scripts = sorted(Path(initdb.split(":")[0]).glob("*.sql"))
    assert any(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in s.read_text() for s in scripts
    )
