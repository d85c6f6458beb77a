"""The Dockerfile, checked without a Docker engine: what it copies, runs and exposes.

No engine runs here, so the image is checked in parts: the Dockerfile's stages, users,
health checks and commands (each command parsed by the real CLI, each RUN line by shellcheck);
the build context that .dockerignore leaves (every COPY source must be in it, nothing secret
or bulky may be); a wheel built from exactly that context (it must carry the tokenizer and
migrations); and the installed package answering a question with the network cut off (no
download at run time).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from cli_parsing import parse_cli

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, args in dockerfile_instructions():
        if instruction == "FROM":
            name = args.split()[-1] if " AS " in args.upper() else f"stage{len(found)}"
            current = found.setdefault(name, [])
        current.append((instruction, args))
    return found


def last(stage: list[tuple[str, str]], instruction: str) -> str:
    matches = [args for kind, args in stage if kind == instruction]
    assert matches, f"no {instruction} in the stage"
    return matches[-1]


def test_backend_stage_runs_the_cli_as_a_non_root_user_with_a_health_check() -> None:
    found = stages()
    assert list(found) == ["build", "frontend", "backend"]  # backend: the default target
    backend = found["backend"]
    assert last(backend, "USER") not in ("root", "0")
    uid = re.search(r"--uid (\d+)", " ".join(a for k, a in backend if k == "RUN"))
    assert uid and int(uid.group(1)) >= 1000
    command = json.loads(last(backend, "CMD"))
    parse_cli(command)
    assert command[1] == "serve" and "0.0.0.0" in command
    check = last(backend, "HEALTHCHECK")
    probe = json.loads(check[check.index("CMD") + 3 :])
    assert probe[:2] == ["python", "-c"] and "/api/health" in probe[2]
    compile(probe[2], "healthcheck", "exec")
    env = " ".join(a for k, a in backend if k == "ENV")
    assert "DATA_DIR=/data" in env and "EXPOSE" in {k for k, _ in backend}


def test_backend_logs_to_files_in_a_directory_the_app_user_owns() -> None:
    backend = stages()["backend"]
    env = " ".join(a for k, a in backend if k == "ENV")
    assert "LOG_DIR=/var/log/rag-chatbot" in env
    runs = " ".join(a for k, a in backend if k == "RUN")
    made = re.search(r"mkdir -p ([^&]+)&& chown app:app ([^&]+)$", runs)
    assert made, "the directories are not made and handed to the app user in one RUN"
    assert "/var/log/rag-chatbot" in made.group(1).split()
    assert "/var/log/rag-chatbot" in made.group(2).split()
    # A volume: compose mounts the host's directory there, Kubernetes an emptyDir.
    assert "/var/log/rag-chatbot" in json.loads(last(backend, "VOLUME"))


# The PostgreSQL client each Debian release ships (postgresql-client's major version).
DEBIAN_POSTGRESQL_CLIENT = {"bullseye": 13, "bookworm": 15, "trixie": 17}


def test_backend_carries_the_postgresql_client_of_the_composed_servers_version() -> None:
    backend = stages()["backend"]
    install = [a for k, a in backend if k == "RUN" and "apt-get install" in a]
    assert len(install) == 1
    words = shlex.split(install[0].replace("&&", ";"))
    assert "postgresql-client" in words and "--no-install-recommends" in words
    assert "rm -rf /var/lib/apt/lists/*" in install[0]  # no package lists in the image
    python = re.search(
        r"ARG PYTHON_IMAGE=python:[\w.]+-slim-(\w+)", (ROOT / "Dockerfile").read_text()
    )
    assert python
    client = DEBIAN_POSTGRESQL_CLIENT[python.group(1)]
    for compose in ("docker-compose.yml", "docker-compose.prod.yml"):
        image = yaml.safe_load((ROOT / compose).read_text())["services"]["postgres"]["image"]
        version = re.fullmatch(r"postgres:(\d+)[\w.-]*", image)
        assert version, image
        # pg_dump refuses a server newer than itself.
        assert client >= int(version.group(1)), (compose, image)


def test_the_operator_scripts_run_inside_the_backend() -> None:
    # `docker-compose exec backend ./scripts/backup-db.sh`: the scripts sit in the working
    # directory, with what they call (curl, pg_dump) and a writable BACKUP_DIR on the volume.
    backend = stages()["backend"]
    assert ("COPY", "scripts /app/scripts") in backend
    assert last(backend, "WORKDIR") == "/app"
    install = next(a for k, a in backend if k == "RUN" and "apt-get install" in a)
    assert "curl" in shlex.split(install.replace("&&", ";"))
    env = " ".join(a for k, a in backend if k == "ENV")
    assert "BACKUP_DIR=/data/backups" in env and "DATA_DIR=/data" in env


def test_every_run_line_is_valid_shell() -> None:
    """Each RUN as /bin/sh -c would get it (after BuildKit's --flags), through shellcheck."""
    runs = [a for stage in stages().values() for k, a in stage if k == "RUN"]
    assert len(runs) >= 4
    for run in runs:
        command = re.sub(r"^(--\S+\s+)+", "", run)
        checked = subprocess.run(
            ["shellcheck", "--shell=sh", "-"], input=command, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout


def test_frontend_stage_is_unprivileged_nginx_with_our_config_and_the_ui_files() -> None:
    frontend = stages()["frontend"]
    assert last(frontend, "USER") == "101"
    copies = [a for k, a in frontend if k == "COPY"]
    assert "deploy/nginx/rag-chatbot.conf /etc/nginx/conf.d/default.conf" in copies
    # The web UI's files where the site's /static/ location looks for them.
    (static,) = [a for a in copies if a.startswith("src/rag_chatbot/web/static ")]
    root = re.search(
        r"location /static/ \{\s*root ([^;]+);",
        (ROOT / "deploy" / "nginx" / "rag-chatbot.conf").read_text(),
    )
    assert root and static.split()[1] == f"{root.group(1)}/static"
    assert "/nginx-health" in last(frontend, "HEALTHCHECK")
    assert "ARG NGINX_IMAGE=nginxinc/nginx-unprivileged" in (ROOT / "Dockerfile").read_text()


def test_the_build_proves_the_model_loads_offline(tmp_path: Path) -> None:
    runs = [args for kind, args in stages()["build"] if kind == "RUN"]
    offline = [r for r in runs if r.startswith("--network=none")]
    assert offline and "OnnxMiniLMEmbedder" in offline[0]
    code = shlex.split(offline[0])[-1]
    # Run it here, building the derived models where the image's runtime looks for them.
    backend = stages()["backend"]
    assert ("COPY", "--from=build /opt/models /opt/models") in backend
    assert any(k == "ENV" and "MODEL_CACHE_DIR=/opt/models" in a for k, a in backend)
    exec(compile(code.replace("/opt/models", str(tmp_path)), "offline-check", "exec"), {})
    built = sorted(p.name for p in tmp_path.iterdir())
    assert [name.rsplit("-", 1)[-1] for name in built] == ["float.onnx", "integer.onnx"]


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (negated, regex) pairs, Docker's semantics for *, ** and !."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        rules.append((negated, re.compile(regex + "$")))
    return rules


def in_context(relative: str) -> bool:
    """Whether Docker sends ``relative`` (a path in the repository) in the build context."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in _ignore_rules():
        if any(regex.match(c) for c in candidates):
            excluded = not negated
    return not excluded


def context_files() -> list[str]:
    skip = {".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in skip or not path.is_file():
            continue
        if in_context(relative.as_posix()):
            files.append(relative.as_posix())
    return sorted(files)


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    copies = [
        args
        for stage in stages().values()
        for kind, args in stage
        if kind == "COPY" and "--from=" not in args
    ]
    assert copies
    for args in copies:
        *sources, _destination = shlex.split(args)
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"COPY {source}: no such file"
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            kept = [f for f in files if in_context(f.relative_to(ROOT).as_posix())]
            assert kept, f"COPY {source}: .dockerignore excludes all of it"


def test_the_context_holds_the_package_and_nothing_private() -> None:
    files = context_files()
    assert "src/rag_chatbot/providers/embedders/data/all-MiniLM-L6-v2-tokenizer.json" in files
    assert "src/rag_chatbot/db/migrations/script.py.mako" in files
    assert "deploy/nginx/rag-chatbot.conf" in files
    assert "src/rag_chatbot/web/static/widget.js" in files
    for path in files:
        assert not path.startswith(("tests/", "data/", "benchmarks/", ".ci/", "docs/")), path
        assert "__pycache__" not in path and not path.endswith((".pyc", ".db"))
        assert (
            Path(path).name not in (".env", ".env.prod", "secrets.env") and "secrets/" not in path
        )
    private_files = (".env", ".env.prod", "data/rag-chatbot.db", "tests/conftest.py", ".git/config")
    for private in private_files:
        assert not in_context(private)


@pytest.mark.slow
def test_a_wheel_built_from_the_context_alone_carries_the_model_files(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for relative in context_files():
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    built = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"),
            *("-w", str(tmp_path / "dist"), str(context)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("rag_chatbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "rag_chatbot/providers/embedders/data/all-MiniLM-L6-v2-tokenizer.json" in names
    assert "rag_chatbot/db/migrations/script.py.mako" in names
    assert any(n.startswith("rag_chatbot/db/migrations/versions/0001") for n in names)
    assert "rag_chatbot/ops/restore.py" in names


_OFFLINE = """
import socket, sys
from pathlib import Path

def refuse(*args, **kwargs):
    raise OSError("network access during an offline start: %r" % (args,))

_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
        refuse(address)
    return _connect(self, address)
socket.socket.connect = connect
socket.getaddrinfo = refuse
socket.create_connection = refuse

from rag_chatbot.config import load_settings
from rag_chatbot.container import build_container
container = build_container(load_settings())
container.pipeline.ingest_paths([Path(sys.argv[1])])
answer = container.answerer.ask("When does the fog horn sound?")
container.close()
assert answer.grounded and answer.citations, answer
print("answered offline")
"""


@pytest.mark.slow
@pytest.mark.integration
def test_the_installed_package_starts_and_answers_with_the_network_cut(
    tmp_path: Path, fixture_corpus: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "ENVIRONMENT": "development",
        # No HF_HUB_OFFLINE and no cache: nothing may be fetched, nothing is there to find.
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    ran = subprocess.run(
        [sys.executable, "-c", _OFFLINE, str(fixture_corpus)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "answered offline" in ran.stdout


def test_parse_cli_rejects_what_the_cli_would_reject() -> None:
    parse_cli(["rag-chatbot", "db", "upgrade"])
    parse_cli(["rag-chatbot", "backup", "/tmp/x.tar.gz"])
    parse_cli(["rag-chatbot", "serve", "--host", "0.0.0.0", "--workers", "2"])
    with pytest.raises(AssertionError, match="No such option"):
        parse_cli(["rag-chatbot", "serve", "--threads", "4"])
    with pytest.raises(AssertionError, match="rejects"):
        parse_cli(["rag-chatbot", "serve", "--workers", "0"])
    with pytest.raises(AssertionError, match=r"rejects|no command"):
        parse_cli(["rag-chatbot", "launch"])
