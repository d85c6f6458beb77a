"""deploy/k8s: every manifest against the Kubernetes schemas (offline), and wired together.

``kubernetes-validate`` bundles the official JSON schemas; strict mode rejects unknown
fields, so a misspelt key fails here rather than at ``kubectl apply``. The remaining checks
are what a schema cannot see: names that must match across manifests, probes and resources on
every container, settings that exist, and commands the CLI accepts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cli_parsing import parse_cli

from rag_chatbot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
VERSIONS = ("1.29.0", "1.33.0")
MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS"}  # read by uvicorn


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in _documents(path)]


def _one(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in _all() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in pod["containers"] if c["name"] == name]
    return found


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(K8S)))
@pytest.mark.parametrize("version", VERSIONS)
def test_each_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    documents = _documents(path)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    deployment = _one("Deployment", "rag-backend")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_everything_lives_in_the_rag_chatbot_namespace() -> None:
    for document in _all():
        if document["kind"] == "Namespace":
            assert document["metadata"]["name"] == "rag-chatbot"
        else:
            assert document["metadata"]["namespace"] == "rag-chatbot", document["metadata"]


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for document in _all():
        if document["kind"] in WORKLOADS:
            specs.append((document["kind"], document["spec"]["template"]["spec"]))
    return specs


def test_every_container_has_resources_probes_and_no_root() -> None:
    for kind, spec in _pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            resources = container["resources"]
            assert resources["requests"] and resources["limits"]["memory"], container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            read_only = container["securityContext"].get("readOnlyRootFilesystem")
            assert read_only or kind == "StatefulSet", container["name"]
            if kind != "Job" and container.get("ports"):  # what serves is probed
                assert container["livenessProbe"] and container["readinessProbe"]


def test_backend_probes_commands_and_settings() -> None:
    backend = _one("Deployment", "rag-backend")["spec"]["template"]
    container = _container(backend["spec"], "backend")
    parse_cli(container["args"])
    port = container["ports"][0]["containerPort"]
    assert str(port) in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health/detailed"
    assert container["startupProbe"]["httpGet"]["path"] == "/api/health"
    assert backend["metadata"]["annotations"]["prometheus.io/path"] == "/api/metrics"
    refs = {next(iter(source.values()))["name"] for source in container["envFrom"]}
    assert refs == {"rag-chatbot-config", "rag-chatbot-secrets"}
    (job,) = _one("Job", "rag-migrate")["spec"]["template"]["spec"]["containers"]
    parse_cli(job["args"])
    assert job["args"][1:] == ["db", "upgrade"]


def test_configured_names_are_settings_of_rag_chatbot() -> None:
    known = {name.upper() for name in Settings.model_fields}
    config = _one("ConfigMap", "rag-chatbot-config")["data"]
    assert not set(config) - known - NOT_SETTINGS
    assert config["QDRANT_URL"] == "http://qdrant:6333"
    secret = _one("Secret", "rag-chatbot-secrets")["stringData"]
    assert not set(secret) - known
    assert {"DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY", "ADMIN_TOKEN"} <= set(secret)


def test_the_database_url_is_the_plain_form_psql_and_pg_dump_take() -> None:
    from sqlalchemy.engine import make_url

    from rag_chatbot.config import check_database_url

    text = (K8S / "secret.example.yaml").read_text()
    assert "postgresql+psycopg" not in text
    url = _one("Secret", "rag-chatbot-secrets")["stringData"]["DATABASE_URL"]
    assert url.startswith("postgresql://") and "@" in url
    check_database_url(url)
    assert make_url(url).get_dialect().driver == "psycopg"
    # The kubectl command in the comment gives the same form.
    assert "--from-literal=DATABASE_URL='postgresql://" in text


def test_services_hpa_pdb_and_ingress_point_at_what_exists() -> None:
    labels = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in _all()
        if d["kind"] in WORKLOADS
    }
    ports: dict[str, set[object]] = {}
    for service in (d for d in _all() if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= pod.items() for pod in labels.values()), service
        ports[service["metadata"]["name"]] = {
            value for p in service["spec"]["ports"] for value in (p["port"], p.get("name"))
        }
    assert {"rag-backend", "rag-frontend", "qdrant"} <= set(ports)
    assert 6333 in ports["qdrant"] and 8000 in ports["rag-backend"]
    hpa = _one("HorizontalPodAutoscaler", "rag-backend")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "rag-backend" and hpa["minReplicas"] >= 2
    for pdb in (d for d in _all() if d["kind"] == "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= pod.items() for pod in labels.values()), pdb
    rule = _one("Ingress", "rag-chatbot")["spec"]["rules"][0]
    target = rule["http"]["paths"][0]["backend"]["service"]
    assert target["name"] == "rag-frontend" and target["port"]["name"] in ports["rag-frontend"]
    qdrant = _one("StatefulSet", "qdrant")["spec"]
    assert qdrant["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]


def test_kustomization_lists_every_manifest_but_the_example_and_the_job() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}
    images = {i["name"] for i in kustomization["images"]}
    used = {c["image"] for _, spec in _pod_specs() for c in spec["containers"]}
    assert images <= used


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_the_release() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    documents = [d for d in yaml.safe_load_all(built.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert ("Deployment", "rag-backend") in kinds and ("Namespace", "rag-chatbot") in kinds
    images = {
        c["image"]
        for d in documents
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {
        "registry.example.com/rag-chatbot:0.1.0",
        "registry.example.com/rag-chatbot-frontend:0.1.0",
    }


def test_forwarded_addresses_are_trusted_from_the_frontend_alone() -> None:
    import ipaddress

    trusted = _one("ConfigMap", "rag-chatbot-config")["data"]["FORWARDED_ALLOW_IPS"]
    assert trusted != "*" and ipaddress.ip_network(trusted)
    policy = _one("NetworkPolicy", "rag-backend")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "rag-backend"}
    (rule,) = policy["ingress"]
    sources = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]
    ]
    assert sources == ["rag-frontend", "prometheus"]
    # nginx takes the client's address from the ingress controller's header, from no one else.
    realip = _one("ConfigMap", "rag-frontend-trusted-proxies")["data"]["ingress.conf"]
    assert "real_ip_header X-Forwarded-For;" in realip and "set_real_ip_from" in realip
    mounts = _container(_one("Deployment", "rag-frontend")["spec"]["template"]["spec"], "frontend")[
        "volumeMounts"
    ]
    assert {
        "name": "trusted-proxies",
        "mountPath": "/etc/nginx/trusted-proxies",
        "readOnly": True,
    } in mounts


def _volumes(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod["volumes"]}


def test_log_dir_is_a_volume_wherever_the_image_runs() -> None:
    """LOG_DIR (the image's /var/log/rag-chatbot) is writable under a read-only root."""
    assert _one("ConfigMap", "rag-chatbot-config")["data"]["LOG_DIR"] == "/var/log/rag-chatbot"
    backend = _one("Deployment", "rag-backend")["spec"]["template"]["spec"]
    job = _one("Job", "rag-migrate")["spec"]["template"]["spec"]
    for pod, name in ((backend, "backend"), (backend, "log-rotate"), (job, "migrate")):
        mounts = {m["mountPath"]: m["name"] for m in _container(pod, name)["volumeMounts"]}
        volume = _volumes(pod)[mounts["/var/log/rag-chatbot"]]
        assert "emptyDir" in volume, name  # each pod's own files; stdout is the lasting copy
    limit = _volumes(backend)["logs"]["emptyDir"]["sizeLimit"]
    rotate_mb = int(
        {e["name"]: e["value"] for e in _container(backend, "log-rotate")["env"]}["LOG_ROTATE_MB"]
    )
    # app.log and access.log, each with one rotated copy, stay under the eviction limit.
    assert limit.endswith("Gi") and 4 * rotate_mb < int(limit[:-2]) * 1024


def test_the_log_rotate_container_rotates_without_losing_a_line(tmp_path: Path) -> None:
    """The sidecar's own program, run here against a real WatchedFileHandler writer."""
    import logging.handlers
    import sys
    import time

    backend = _one("Deployment", "rag-backend")["spec"]["template"]["spec"]
    sidecar = _container(backend, "log-rotate")
    assert sidecar["image"] == _container(backend, "backend")["image"]  # python is there
    annotations = _one("Deployment", "rag-backend")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/default-container"] == "backend"
    program = sidecar["command"][2]
    assert "/var/log/rag-chatbot" in program and "time.sleep(30)" in program
    program = program.replace("/var/log/rag-chatbot", str(tmp_path))
    program = program.replace("time.sleep(30)", "time.sleep(0.05)")
    handler = logging.handlers.WatchedFileHandler(tmp_path / "app.log")
    writer = logging.getLogger("rotation-test")
    writer.propagate = False
    writer.addHandler(handler)
    rotator = subprocess.Popen(
        [sys.executable, "-c", program], env={"LOG_ROTATE_MB": "1", "PATH": "/usr/bin:/bin"}
    )
    try:
        line = "x" * 200
        written = 0
        while not (tmp_path / "app.log.1").exists():
            assert rotator.poll() is None and written < 100_000
            writer.warning("%s %d", line, written)
            written += 1
            if written % 1000 == 0:
                time.sleep(0.02)
        for _ in range(10):  # after the rename: the writer must reopen app.log
            writer.warning("%s %d", line, written)
            written += 1
    finally:
        rotator.terminate()
        rotator.wait(timeout=10)
        writer.removeHandler(handler)
        handler.close()
    old = (tmp_path / "app.log.1").read_text().splitlines()
    new = (tmp_path / "app.log").read_text().splitlines()
    assert (tmp_path / "app.log.1").stat().st_size > 1024 * 1024
    assert [int(n.split()[-1]) for n in old + new] == list(range(written))
    assert len(new) >= 10


def test_node_exporter_runs_on_every_node_with_the_textfile_collector() -> None:
    daemonset = _one("DaemonSet", "node-exporter")
    pod = daemonset["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "node-exporter"
    assert daemonset["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "node-exporter"
    }
    spec = pod["spec"]
    assert spec["hostNetwork"] and spec["hostPID"]
    assert {"operator": "Exists"} in spec["tolerations"]
    container = _container(spec, "node-exporter")
    assert {"name": "metrics", "containerPort": 9100, "hostPort": 9100} in container["ports"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9100"
    flag = "--collector.textfile.directory="
    (directory,) = [a.removeprefix(flag) for a in container["args"] if a.startswith(flag)]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[directory]["readOnly"] and mounts["/host"]["readOnly"]
    assert "--path.rootfs=/host" in container["args"]
    textfile = _volumes(spec)[mounts[directory]["name"]]["hostPath"]
    assert textfile == {"path": directory, "type": "DirectoryOrCreate"}
    assert (
        "node-exporter.yaml"
        in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    )
