"""scripts/*.sh: linted, documented, and run for real where the tools exist here.

Deploy and rollback need an engine or a cluster: here they are run with --dry-run and the
commands they plan are checked (test_deploy.py runs them through stand-ins for
docker-compose and kubectl). The database scripts have their own module, test_db_scripts.py.
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
PROD = "docker-compose -f docker-compose.prod.yml"


def run(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    path = ROOT / "deploy.sh" if script == "./deploy.sh" else SCRIPTS / script
    return subprocess.run(
        [str(path), *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def steps(planned: subprocess.CompletedProcess[str]) -> list[str]:
    assert planned.returncode == 0, planned.stderr
    return [line[2:] for line in planned.stdout.splitlines() if line.startswith("+ ")]


@pytest.mark.usefixtures("shellcheck_installed")
def test_shellcheck_finds_nothing() -> None:
    checked = subprocess.run(
        ["shellcheck", str(ROOT / "deploy.sh"), *(str(SCRIPTS / name) for name in OURS)],
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


def test_the_root_deploy_script_is_scripts_deploy(tmp_path: Path) -> None:
    state = {"DEPLOY_STATE_DIR": str(tmp_path)}
    assert run("./deploy.sh", "--help").stdout == run("deploy.sh", "--help").stdout
    root = run("./deploy.sh", "--dry-run", "production", "v1.2.0", env=state)
    assert steps(root) == steps(run("deploy.sh", "--dry-run", "production", "v1.2.0", env=state))


def test_deploy_compose_backs_up_and_migrates_before_replacing(tmp_path: Path) -> None:
    planned = steps(
        run(
            "deploy.sh", "--dry-run", "production", "1.4.2", env={"DEPLOY_STATE_DIR": str(tmp_path)}
        )
    )
    assert planned[0] == "scripts/backup-db.sh"
    assert "RAG_CHATBOT_TAG=1.4.2" in planned[1]
    assert planned[2] == f"{PROD} pull backend frontend"
    assert planned[3].startswith(f"{PROD} run --rm --no-deps backend rag-chatbot db upgrade")
    words = shlex.split(planned[3])
    parse_cli(words[words.index("rag-chatbot") :])
    assert planned[4] == f"{PROD} up -d --remove-orphans"
    assert planned[5].startswith("curl -fs http://127.0.0.1:8080/api/health")
    assert planned[6] == "scripts/smoke-test.sh http://127.0.0.1:8080"
    assert not list(tmp_path.iterdir())  # a dry run records no release


def test_deploy_environments_and_options(tmp_path: Path) -> None:
    state = {"DEPLOY_STATE_DIR": str(tmp_path), "SMOKE_URL": "http://example.test:8080/"}
    staging = steps(run("deploy.sh", "--dry-run", "--no-backup", "staging", "v2", env=state))
    assert "scripts/backup-db.sh" not in staging
    assert staging[1] == f"{PROD} pull backend frontend"
    assert staging[-1] == "scripts/smoke-test.sh http://example.test:8080"
    development = steps(run("deploy.sh", "--dry-run", "--build", "development", "v2", env=state))
    assert development[2] == "docker-compose -f docker-compose.yml build backend frontend"
    # The older form: a target and a version deploy production there.
    assert steps(run("deploy.sh", "--dry-run", "compose", "v2", env=state)) == steps(
        run("deploy.sh", "--dry-run", "production", "v2", env=state)
    )
    via_setting = {**state, "DEPLOY_TARGET": "k8s"}
    assert "kubectl" in steps(run("deploy.sh", "--dry-run", "production", "v2", env=via_setting))[1]


def test_deploy_k8s_runs_the_migration_job_with_the_new_image(tmp_path: Path) -> None:
    state = {"DEPLOY_STATE_DIR": str(tmp_path)}
    planned = steps(
        run("deploy.sh", "--dry-run", "--target", "k8s", "production", "1.4.2", env=state)
    )
    assert planned[0] == "scripts/backup-db.sh"
    assert planned[1] == "kubectl -n rag-chatbot delete job rag-migrate --ignore-not-found"
    assert "deploy/k8s/jobs/migrate.yaml" in planned[2]
    assert planned[3].startswith(
        "kubectl -n rag-chatbot wait --for=condition=complete job/rag-migrate"
    )
    assert planned[4].endswith("backend=registry.example.com/rag-chatbot:1.4.2")
    assert planned[5].endswith("frontend=registry.example.com/rag-chatbot-frontend:1.4.2")
    assert [s.split()[3:5] for s in planned[6:]] == [["rollout", "status"], ["rollout", "status"]]
    # The substitution the script pipes into kubectl, run for real on the Job manifest.
    staging = steps(run("deploy.sh", "--dry-run", "--target=k8s", "staging", "1.4.2", env=state))
    assert staging[1].startswith("kubectl -n rag-chatbot-staging ")
    sed = staging[2].split(" | ")[0]
    rendered = subprocess.run(
        ["bash", "-c", sed], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    job = yaml.safe_load(rendered)
    assert job["metadata"]["namespace"] == "rag-chatbot-staging"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/rag-chatbot:1.4.2"


def test_deploy_refuses_bad_arguments() -> None:
    for bad in (
        ("--dry-run", "production", "1.0; rm -rf /"),
        ("--dry-run", "swarm", "1.0"),
        ("--dry-run", "--target", "swarm", "production", "1.0"),
        ("compose",),
        ("production",),
        ("--dry-run", "--fast", "production", "1.0"),
    ):
        refused = run("deploy.sh", *bad)
        assert refused.returncode == 2, bad
        assert refused.stderr.strip(), bad


def test_rollback_returns_to_the_recorded_release(tmp_path: Path) -> None:
    state = {"DEPLOY_STATE_DIR": str(tmp_path)}
    missing = run("rollback.sh", env=state)
    assert missing.returncode == 1 and "no previous release" in missing.stderr
    record = tmp_path / "compose-production.versions"
    record.write_text("1.4.1 2024-05-01T10:00:00Z\n1.4.2 2024-05-02T10:00:00Z\n")
    planned = run("rollback.sh", "--dry-run", env=state)
    assert "+ export RAG_CHATBOT_IMAGE=" in planned.stdout
    assert "RAG_CHATBOT_TAG=1.4.1" in planned.stdout
    assert f"+ {PROD} up -d --remove-orphans" in planned.stdout
    assert record.read_text().count("\n") == 2  # a dry run changes no record
    (tmp_path / "k8s-staging.versions").write_text("v1 t\nv2 t\n")
    k8s = run("rollback.sh", "--dry-run", "--target", "k8s", "staging", env=state).stdout
    assert "kubectl -n rag-chatbot-staging set image deployment/rag-backend" in k8s
    assert "backend=registry.example.com/rag-chatbot:v1" in k8s
    undo = run("rollback.sh", "--dry-run", "k8s", env=state).stdout  # nothing recorded
    assert "kubectl -n rag-chatbot rollout undo deployment/rag-backend" in undo
    assert "kubectl -n rag-chatbot rollout undo deployment/rag-frontend" in undo
    assert run("rollback.sh", "nowhere", env=state).returncode == 2
    assert run("rollback.sh", "--to", "a b", env=state).returncode == 2
