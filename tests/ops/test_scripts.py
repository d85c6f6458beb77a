"""scripts/*.sh: linted, documented, and run for real where the tools exist here.

Deploy and rollback, which need an engine or a cluster, are run with --dry-run and their
commands checked. The database scripts have their own module, test_db_scripts.py.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from cli_parsing import parse_cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
# Every operator script; test.sh is the README's test command, not an operations script.
OURS = tuple(sorted(p.name for p in SCRIPTS.glob("*.sh") if p.name != "test.sh"))


def run(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.usefixtures("shellcheck_installed")
def test_shellcheck_finds_nothing() -> None:
    checked = subprocess.run(
        ["shellcheck", *(str(SCRIPTS / name) for name in OURS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize("script", OURS)
def test_each_script_explains_itself(script: str) -> None:
    helped = run(script, "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith(f"Usage: scripts/{script}")
    assert os.access(SCRIPTS / script, os.X_OK)


def test_deploy_compose_migrates_before_replacing(tmp_path: Path) -> None:
    planned = run(
        "deploy.sh", "--dry-run", "compose", "1.4.2", env={"DEPLOY_STATE_DIR": str(tmp_path)}
    )
    assert planned.returncode == 0, planned.stderr
    steps = [line[2:] for line in planned.stdout.splitlines() if line.startswith("+ ")]
    assert "RAG_CHATBOT_TAG=1.4.2" in steps[0]
    compose = "docker-compose -f docker-compose.yml -f docker-compose.prod.yml"
    assert steps[1] == f"{compose} pull backend frontend"
    assert steps[2].startswith(f"{compose} run --rm --no-deps backend rag-chatbot db upgrade")
    parse_cli(shlex.split(steps[2])[shlex.split(steps[2]).index("rag-chatbot") :])
    assert steps[3] == f"{compose} up -d --remove-orphans"
    assert not list(tmp_path.iterdir())  # a dry run records no release


def test_deploy_k8s_runs_the_migration_job_with_the_new_image(tmp_path: Path) -> None:
    planned = run("deploy.sh", "--dry-run", "k8s", "1.4.2")
    assert planned.returncode == 0, planned.stderr
    steps = [line[2:] for line in planned.stdout.splitlines() if line.startswith("+ ")]
    assert steps[0] == "kubectl -n rag-chatbot delete job rag-migrate --ignore-not-found"
    assert "deploy/k8s/jobs/migrate.yaml" in steps[1]
    assert steps[2].startswith(
        "kubectl -n rag-chatbot wait --for=condition=complete job/rag-migrate"
    )
    assert steps[3].endswith("backend=registry.example.com/rag-chatbot:1.4.2")
    assert steps[4].endswith("frontend=registry.example.com/rag-chatbot-frontend:1.4.2")
    assert [s.split()[3:5] for s in steps[5:]] == [
        ["rollout", "status"],
        ["rollout", "status"],
    ]
    # The substitution the script pipes into kubectl, run for real on the Job manifest.
    sed = steps[1].split(" | ")[0]
    rendered = subprocess.run(
        ["bash", "-c", sed], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    (container,) = yaml.safe_load(rendered)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/rag-chatbot:1.4.2"


def test_deploy_refuses_bad_arguments() -> None:
    assert run("deploy.sh", "--dry-run", "compose", "1.0; rm -rf /").returncode == 2
    assert run("deploy.sh", "--dry-run", "swarm", "1.0").returncode == 2
    assert run("deploy.sh", "compose").returncode == 2


def test_rollback_returns_to_the_recorded_release(tmp_path: Path) -> None:
    missing = run("rollback.sh", "compose", env={"DEPLOY_STATE_DIR": str(tmp_path)})
    assert missing.returncode == 1 and "no previous release" in missing.stderr
    (tmp_path / "compose-tag").write_text("1.4.2\n")
    (tmp_path / "compose-tag.previous").write_text("1.4.1\n")
    planned = run("rollback.sh", "--dry-run", "compose", env={"DEPLOY_STATE_DIR": str(tmp_path)})
    assert planned.returncode == 0, planned.stderr
    assert "+ export RAG_CHATBOT_TAG=1.4.1" in planned.stdout
    assert "up -d --remove-orphans" in planned.stdout
    k8s = run("rollback.sh", "--dry-run", "k8s").stdout
    assert "rollout undo deployment/rag-backend" in k8s
    assert "rollout undo deployment/rag-frontend" in k8s
