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


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for document in _all():
        if document["kind"] in ("Deployment", "StatefulSet", "Job"):
            specs.append((document["kind"], document["spec"]["template"]["spec"]))
    return specs


def test_every_container_has_resources_probes_and_no_root() -> None:
    for kind, spec in _pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            resources = container["resources"]
            assert resources["requests"] and resources["limits"]["memory"], container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            if kind != "Job":
                assert container["livenessProbe"] and container["readinessProbe"]


def test_backend_probes_commands_and_settings() -> None:
    backend = _one("Deployment", "rag-backend")["spec"]["template"]
    (container,) = backend["spec"]["containers"]
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


def test_services_hpa_pdb_and_ingress_point_at_what_exists() -> None:
    labels = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in _all()
        if d["kind"] in ("Deployment", "StatefulSet")
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
    mounts = _one("Deployment", "rag-frontend")["spec"]["template"]["spec"]["containers"][0][
        "volumeMounts"
    ]
    assert {
        "name": "trusted-proxies",
        "mountPath": "/etc/nginx/trusted-proxies",
        "readOnly": True,
    } in mounts
