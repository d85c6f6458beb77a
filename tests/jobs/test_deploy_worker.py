"""The worker as the deployments run it: the compose service (resolved by docker-compose) and
the Kubernetes Deployment, each running a command the CLI accepts, with what a worker needs."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from rag_chatbot.cli.main import app
from rag_chatbot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _parses(args: list[str]) -> None:
    """``rag-chatbot ARGS`` is a command line the CLI accepts (parsed, not run)."""
    assert args[:2] == ["rag-chatbot", "worker"], args
    group: Any = get_command(app)
    command = group.get_command(group.make_context("rag-chatbot", ["worker"]), "worker")
    command.make_context("worker", list(args[2:]))


def _resolved(tmp_path: Path, name: str) -> dict[str, Any]:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is required (Debian package docker-compose)")
    for file in ("docker-compose.yml", "docker-compose.prod.yml"):
        shutil.copy(ROOT / file, tmp_path / file)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    for env, example in ((".env", "env.example"), (".env.prod", "env.prod.example")):
        text = (ROOT / "deploy" / example).read_text()
        filled = re.sub(r"^(\w+)=$", lambda m: f"{m[1]}={secrets.token_hex(24)}", text, flags=re.M)
        (tmp_path / env).write_text(filled)
    result = subprocess.run(
        [
            "docker-compose",
            "--project-directory",
            str(tmp_path),
            "-f",
            str(tmp_path / name),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.prod.yml"])
def test_the_compose_worker_shares_the_backends_data_and_broker(tmp_path: Path, name: str) -> None:
    services = _resolved(tmp_path, name)["services"]
    worker, backend = services["worker"], services["backend"]
    _parses(worker["command"])
    assert "ports" not in worker and worker["expose"] == ["9108"]  # nobody calls it but Prometheus
    assert worker["image"] == backend["image"]
    assert worker["environment"]["BROKER_URL"] == "redis://redis:6379/1"
    assert worker["environment"]["BROKER_URL"] != backend["environment"]["REDIS_URL"]
    assert worker["environment"]["EMBEDDING_THREADS"] == "1"
    assert worker["environment"]["DATABASE_URL"] == backend["environment"]["DATABASE_URL"]
    known = {field.upper() for field in Settings.model_fields}
    assert set(worker["environment"]) - known <= {
        "PGPASSWORD",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "POSTGRES_PASSWORD",
    }
    shared = {v for v in worker["volumes"] if isinstance(v, str)} or {
        f"{v['source']}:{v['target']}" for v in worker["volumes"]
    }
    assert any(v.startswith("backend-data:/data") for v in shared)  # uploads are read there
    assert "9108/api/metrics" in " ".join(worker["healthcheck"]["test"])
    # The queue never evicted: Redis evicts only what expires.
    redis = " ".join(services["redis"]["command"])
    assert "volatile-lru" in redis and "allkeys" not in redis


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_the_kubernetes_worker_is_a_deployment_of_its_own_without_a_service() -> None:
    manifests = _documents(ROOT / "deploy" / "k8s" / "worker.yaml")
    kinds = {d["kind"]: d for d in manifests}
    assert set(kinds) == {"Deployment", "NetworkPolicy", "PodDisruptionBudget"}
    pod = kinds["Deployment"]["spec"]["template"]
    (worker,) = [c for c in pod["spec"]["containers"] if c["name"] == "worker"]
    _parses(worker["args"])
    port = worker["ports"][0]["containerPort"]
    assert worker["args"][worker["args"].index("--metrics-port") + 1] == str(port)
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert worker["resources"]["requests"]["cpu"] == worker["resources"]["limits"]["cpu"] == "1"
    grace = int(worker["args"][worker["args"].index("--grace") + 1])
    assert pod["spec"]["terminationGracePeriodSeconds"] > grace + 10  # time to hand back
    mounts = {m["mountPath"] for m in worker["volumeMounts"]}
    assert {"/data/uploads", "/var/log/rag-chatbot", "/tmp"} <= mounts
    label = pod["metadata"]["labels"]["app.kubernetes.io/name"]
    everything = [d for p in (ROOT / "deploy" / "k8s").glob("*.yaml") for d in _documents(p)]
    services = [d for d in everything if d["kind"] == "Service"]
    assert not [s for s in services if s["spec"]["selector"].get("app.kubernetes.io/name") == label]
    policy = kinds["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == label
    (rule,) = policy["ingress"]
    assert [p["port"] for p in rule["ports"]] == [port]
    secret = _documents(ROOT / "deploy" / "k8s" / "secret.example.yaml")[0]["stringData"]
    assert secret["BROKER_URL"].startswith("redis://")
    scrape = yaml.safe_load(
        (ROOT / "deploy" / "monitoring" / "prometheus-kubernetes.yml").read_text()
    )
    kept = [
        r["regex"]
        for r in scrape["scrape_configs"][0]["relabel_configs"]
        if r.get("action") == "keep"
    ]
    assert any(re.fullmatch(regex, label) for regex in kept)
