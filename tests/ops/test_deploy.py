"""deploy.sh, rollback.sh and smoke-test.sh run for real, end to end.

docker-compose and kubectl cannot run here (no engine, no cluster): a stand-in named like
each is put first on PATH. It records every call (with the RAG_CHATBOT_TAG it was given),
keeps the manifest piped to ``kubectl apply -f -``, fails when its command line matches
SHIM_FAIL (once only with SHIM_FAIL_ONCE), and runs the migration step's ``rag-chatbot db
upgrade`` for real, as the one-off container would. Everything else is real: the backup
(scripts/backup-db.sh), the database, and a real server for the health checks and the smoke
test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deployments import deployment, script, serving
from testing_secrets import TEST_JWT_SECRET

SHIM = r"""#!/usr/bin/env bash
set -euo pipefail
name=$(basename "$0")
line="$name tag=${RAG_CHATBOT_TAG:-} $*"
echo "$line" >> "$SHIM_LOG"
if [[ "$*" == *"apply -f -"* ]]; then cat > "$(dirname "$SHIM_LOG")/applied.yaml"; fi
if [ -n "${SHIM_FAIL:-}" ] && [[ "$line" =~ $SHIM_FAIL ]]; then
  if [ -z "${SHIM_FAIL_ONCE:-}" ] || [ ! -e "$SHIM_LOG.failed" ]; then
    touch "$SHIM_LOG.failed"
    echo "$name: failing as the test asked" >&2
    exit 1
  fi
fi
if [[ "$name" == docker-compose && " $* " == *" run "* ]]; then
  while [ "$1" != backend ]; do shift; done
  shift
  exec "$@"
fi
"""


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path
) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("live")
    env = deployment(root, fixture_corpus)
    with serving(root, env) as base:
        yield {**env, "SMOKE_URL": base, "RAG_CHATBOT_URL": base}


@pytest.fixture
def shimmed(live: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker-compose", "kubectl"):
        (bin_dir / name).write_text(SHIM)
        (bin_dir / name).chmod(0o755)
    env = {
        **live,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SHIM_LOG": str(tmp_path / "calls.log"),
        "DEPLOY_STATE_DIR": str(tmp_path / "state"),
        "METRICS_TEXTFILE_DIR": str(tmp_path / "textfile"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "DEPLOY_HEALTH_TIMEOUT": "20",
    }
    return {"env": env, "root": tmp_path}


def _calls(shimmed: dict[str, Any]) -> list[str]:
    log = Path(shimmed["env"]["SHIM_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def _record(shimmed: dict[str, Any], name: str, *versions: str) -> Path:
    record = Path(shimmed["env"]["DEPLOY_STATE_DIR"]) / f"{name}.versions"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("".join(f"{v} 2024-05-01T10:00:00Z\n" for v in versions))
    return record


def _versions(record: Path) -> list[str]:
    return [line.split()[0] for line in record.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.integration
def test_a_release_is_backed_up_migrated_started_checked_and_recorded(
    shimmed: dict[str, Any],
) -> None:
    record = _record(shimmed, "compose-production", "v1.1.0")
    env = shimmed["env"]
    ran = script("deploy.sh", "production", "v1.2.0", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [c.split()[:5] for c in _calls(shimmed)] == [
        ["docker-compose", "tag=v1.2.0", "-f", "docker-compose.prod.yml", "pull"],
        ["docker-compose", "tag=v1.2.0", "-f", "docker-compose.prod.yml", "run"],
        ["docker-compose", "tag=v1.2.0", "-f", "docker-compose.prod.yml", "up"],
    ]
    assert "(head)" in ran.stdout  # the migration ran for real
    assert list(Path(env["BACKUP_DIR"]).glob("backup_*.sql"))
    assert "smoke-test: all checks passed" in ran.stdout
    assert "v1.2.0 is live in production (compose); previous: v1.1.0" in ran.stdout
    assert _versions(record) == ["v1.1.0", "v1.2.0"]
    assert script("deploy.sh", "--no-backup", "staging", "v2.0.0", env=env).returncode == 0
    prom = Path(env["METRICS_TEXTFILE_DIR"]) / "rag_chatbot_deploy.prom"
    lines = [line for line in prom.read_text().splitlines() if not line.startswith("#")]
    metric = "rag_chatbot_deploy_last_success_timestamp_seconds"
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        f'{metric}{{environment="production",version="v1.2.0"}}',
        f'{metric}{{environment="staging",version="v2.0.0"}}',
    ]
    assert abs(int(lines[-1].rsplit(" ", 1)[1]) - time.time()) < 120
    assert not list(prom.parent.glob("*.tmp"))


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize(
    ("failure", "step"),
    [
        ({"SHIM_FAIL": "tag=v1.3.0 .* up "}, "docker-compose up"),
        ({"SMOKE_QUESTION": "What is quantum chromodynamics?"}, "the smoke test"),
    ],
)
def test_a_failed_release_is_rolled_back(
    shimmed: dict[str, Any], failure: dict[str, str], step: str
) -> None:
    record = _record(shimmed, "compose-production", "v1.1.0", "v1.2.0")
    ran = script(
        "deploy.sh", "--no-backup", "production", "v1.3.0", env={**shimmed["env"], **failure}
    )
    assert ran.returncode == 1
    assert f"deploy.sh: FAILED at {step}" in ran.stderr
    assert "rolled back to v1.2.0; v1.3.0 is not deployed" in ran.stderr
    ups = [c.split()[1] for c in _calls(shimmed) if " up -d " in c]
    assert ups == ["tag=v1.3.0", "tag=v1.2.0"]
    assert _versions(record) == ["v1.1.0", "v1.2.0"]
    assert not (Path(shimmed["env"]["METRICS_TEXTFILE_DIR"]) / "rag_chatbot_deploy.prom").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_a_rollback_that_stays_unhealthy_is_reported(shimmed: dict[str, Any]) -> None:
    _record(shimmed, "compose-production", "v1.2.0")
    env = {**shimmed["env"], "SMOKE_URL": "http://127.0.0.1:9", "DEPLOY_HEALTH_TIMEOUT": "2"}
    ran = script("deploy.sh", "--no-backup", "production", "v1.3.0", env=env)
    assert ran.returncode == 1
    assert "FAILED at the health check" in ran.stderr
    assert "http://127.0.0.1:9/api/health does not answer" in ran.stderr
    assert "the rollback failed too" in ran.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_failures_before_the_replacement_change_nothing(shimmed: dict[str, Any]) -> None:
    env = shimmed["env"]
    record = _record(shimmed, "compose-production", "v1.2.0")
    migration = script("deploy.sh", "production", "v1.3.0", env={**env, "SHIM_FAIL": " run "})
    assert migration.returncode == 1
    assert "FAILED at the migration" in migration.stderr
    assert "the running release was not replaced" in migration.stderr
    assert not [c for c in _calls(shimmed) if " up " in c]
    broken = {**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/rag_no_such_db"}
    backup = script("deploy.sh", "production", "v1.3.0", env=broken)
    assert backup.returncode == 1 and "FAILED at the database backup" in backup.stderr
    assert _versions(record) == ["v1.2.0"]
    # No release recorded: nothing to go back to on compose.
    first = script("deploy.sh", "--no-backup", "staging", "v1", env={**env, "SHIM_FAIL": " up "})
    assert first.returncode == 1 and "nothing to roll back to" in first.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_k8s_release_rolls_back_to_the_recorded_image(shimmed: dict[str, Any]) -> None:
    env = {key: v for key, v in shimmed["env"].items() if key != "SMOKE_URL"}
    record = _record(shimmed, "k8s-production", "v1")
    failing = {**env, "SHIM_FAIL": "rollout status deployment/rag-backend", "SHIM_FAIL_ONCE": "1"}
    ran = script("deploy.sh", "--no-backup", "--target", "k8s", "production", "v2", env=failing)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    applied = (Path(env["SHIM_LOG"]).parent / "applied.yaml").read_text()
    assert "image: registry.example.com/rag-chatbot:v2" in applied
    images = [c.split()[-1] for c in _calls(shimmed) if " set image " in c]
    assert images == [
        "backend=registry.example.com/rag-chatbot:v2",
        "frontend=registry.example.com/rag-chatbot-frontend:v2",
        "backend=registry.example.com/rag-chatbot:v1",
        "frontend=registry.example.com/rag-chatbot-frontend:v1",
    ]
    assert "rolled back to v1" in ran.stderr
    assert _versions(record) == ["v1"]
    done = script("deploy.sh", "--no-backup", "--target", "k8s", "production", "v2", env=env)
    assert done.returncode == 0, done.stderr
    assert "the readiness probes were the health check" in done.stdout
    assert _versions(record) == ["v1", "v2"]


@pytest.mark.slow
@pytest.mark.integration
def test_rollback_without_arguments_goes_back_one_release(shimmed: dict[str, Any]) -> None:
    record = _record(shimmed, "compose-production", "v1.1.0", "v1.2.0")
    back = script("rollback.sh", env=shimmed["env"])
    assert back.returncode == 0, back.stderr
    assert [c.split()[1] for c in _calls(shimmed)] == ["tag=v1.1.0"]
    assert "/api/health answers" in back.stdout
    assert "production (compose) now runs v1.1.0" in back.stdout
    assert _versions(record) == ["v1.1.0"]
    again = script("rollback.sh", env=shimmed["env"])
    assert again.returncode == 1 and "no previous release" in again.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_the_smoke_test_needs_no_arguments(live: dict[str, str]) -> None:
    env = {k: v for k, v in live.items() if k != "SMOKE_QUESTION"}
    ran = script("smoke-test.sh", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "ok   question from the index: " in ran.stdout
    assert "smoke-test: all checks passed against " + live["RAG_CHATBOT_URL"] in ran.stdout


@pytest.mark.slow
@pytest.mark.integration
def test_the_smoke_test_fails_on_an_empty_index(tmp_path: Path) -> None:
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
    }
    with serving(tmp_path, env) as base:
        ran = script("smoke-test.sh", base, env=env)
    assert ran.returncode == 1
    assert "FAIL: no question could be built from the index: the index is empty" in ran.stderr
