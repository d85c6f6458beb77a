"""deploy/monitoring: alert rules checked and unit-tested with promtool, on our real metrics.

- ``promtool check rules`` and ``promtool test rules`` (alerts.test.yml drives each alert
  above and below its threshold); then each alert is disabled in turn and the unit tests must
  notice, so none of them passes without its alert;
- every metric an alert or a dashboard panel reads is exposed by a real app's /api/metrics;
- every dashboard query is valid PromQL (promtool parses it as a recording rule).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from rag_chatbot.api.app import create_app
from rag_chatbot.container import Container

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "rag-chatbot.json"
PROMTOOL = shutil.which("promtool")
# Not ours: Prometheus's own target health and the kubelet's volume statistics.
EXTERNAL = re.compile(r"^(up|kubelet_volume_stats_\w+)$")
METRIC = re.compile(r"\b(up|kubelet_volume_stats_\w+|http_\w+|rag_chatbot_\w+)\b")

needs_promtool = pytest.mark.usefixtures("promtool_installed")


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rules() -> list[dict[str, object]]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


@needs_promtool
def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


@needs_promtool
def test_promtool_unit_tests_fire_each_alert_at_its_threshold() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@needs_promtool
def test_each_alert_is_needed_by_the_unit_tests(tmp_path: Path) -> None:
    shutil.copy(MONITORING / "alerts.test.yml", tmp_path)
    for rule in rules():
        groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())
        for candidate in groups["groups"][0]["rules"]:
            if candidate["alert"] == rule["alert"]:
                candidate["expr"] = "vector(1) > 2"  # never fires
        (tmp_path / "alerts.yml").write_text(yaml.safe_dump(groups))
        tested = promtool("test", "rules", "alerts.test.yml", cwd=tmp_path)
        assert tested.returncode != 0, f"no unit test fails without {rule['alert']}"
        assert f"alertname: {rule['alert']}" in tested.stdout + tested.stderr


def test_thresholds_are_the_ones_operators_expect() -> None:
    expected = {
        "RagChatbotDown": ("critical", "== 0"),
        "RagChatbotErrorRateCritical": ("critical", "> 0.05"),
        "RagChatbotErrorRateHigh": ("warning", "> 0.01"),
        "RagChatbotLatencyCritical": ("critical", 'le="10.0"'),
        "RagChatbotLatencyHigh": ("warning", 'le="5.0"'),
        "RagChatbotMemoryCritical": ("critical", "> 0.95"),
        "RagChatbotMemoryHigh": ("warning", "> 0.85"),
        "RagChatbotCpuHigh": ("warning", "> 0.80"),
        "RagChatbotDiskFull": ("critical", "> 0.95"),
        "RagChatbotVolumeFull": ("critical", "> 0.95"),
        "RagChatbotDbPoolSaturated": ("warning", "> 0.80"),
    }
    found = {str(r["alert"]): r for r in rules()}
    assert set(found) == set(expected)
    for name, (severity, fragment) in expected.items():
        rule = found[name]
        assert rule["labels"] == {"severity": severity}, name  # type: ignore[comparison-overlap]
        assert fragment in str(rule["expr"]), name
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        anchor = str(annotations["runbook"]).split("#")[1]
        runbook = (ROOT / "docs" / "runbook.md").read_text()
        assert _anchors(runbook) >= {anchor}, f"{name}: no section #{anchor} in the runbook"


def _anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-") for h in headings}


@pytest.mark.integration
def test_alerts_and_dashboard_read_metrics_the_app_exposes(container: Container) -> None:
    with TestClient(create_app(container)) as client:
        client.get("/api/health")
        client.post("/api/chat", json={"message": "When does the fog horn sound?"})
        exposition = client.get("/api/metrics").text
    exposed = {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    read = {m for rule in rules() for m in METRIC.findall(str(rule["expr"]))}
    read |= {m for query in dashboard_queries() for m in METRIC.findall(query)}
    missing = {m for m in read if not EXTERNAL.match(m)} - exposed
    assert not missing, f"read by alerts or panels but not exposed: {sorted(missing)}"
    assert {"rag_chatbot_db_pool_in_use", "rag_chatbot_memory_usage_bytes"} <= read


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 15
    recording = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "dashboard-queries.yml").write_text(yaml.safe_dump(recording))
    checked = promtool("check", "rules", "dashboard-queries.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "rag-chatbot"
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["gridPos"]["w"] > 0


def test_the_kubernetes_scrape_config_uses_the_alerts_job_name() -> None:
    config = yaml.safe_load((MONITORING / "prometheus-kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "rag-chatbot" and job["metrics_path"] == "/api/metrics"
    keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
    assert any(r["regex"] == "rag-backend" for r in keep)
    assert config["rule_files"] == ["alerts.yml"]
    compose_job = yaml.safe_load((MONITORING / "prometheus.yml").read_text())["scrape_configs"]
    assert [j["job_name"] for j in compose_job] == ["rag-chatbot"]
