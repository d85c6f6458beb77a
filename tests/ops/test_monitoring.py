"""deploy/monitoring: recording rules, alerts, scrape configs and dashboard, checked with promtool.

- ``promtool check rules`` / ``check config`` (the Kubernetes config with static targets in
  place of its discovery, which Debian's build lacks);
- ``promtool test rules``: rules.test.yml (the recorded error ratio is 0.06 where the literal
  runbook query says 1; percentiles; the machines' memory, CPU and disks), alerts.test.yml and
  history.test.yml (each alert above and below its threshold). Then each alert, and each
  recording rule, is broken in turn and the unit tests must notice;
- every metric an alert, a recording rule or a panel reads comes from somewhere real: the app's
  /api/metrics, the node exporter, the textfile contract, or a recording rule.

A real Prometheus scraping a real server and node exporter: test_monitoring_stack.py.
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
RULE_FILES = ("rules.yml", "alerts.yml")
ALERT_TESTS = ("alerts.test.yml", "history.test.yml")

# Where a metric read by the rules or panels comes from, when not from the app's /api/metrics:
# Prometheus itself, the kubelet, the node exporter, and the files scripts/ write for the node
# exporter's textfile collector (names fixed by the textfile contract; test_monitoring_stack.py
# scrapes them through a real node exporter).
FROM_PROMETHEUS = {"up"}
FROM_KUBELET = re.compile(r"^kubelet_volume_stats_\w+$")
FROM_NODE_EXPORTER = re.compile(r"^node_\w+$")
FROM_TEXTFILES = {
    "rag_chatbot_backup_last_success_timestamp_seconds",
    "rag_chatbot_backup_last_size_bytes",
    "rag_chatbot_deploy_last_success_timestamp_seconds",
    "rag_chatbot_tls_cert_expiry_timestamp_seconds",
}
# Raw metric names in PromQL (a recorded name's parts, between colons, are not metrics).
METRIC = re.compile(
    r"(?<![\w:])(up|kubelet_volume_stats_\w+|node_\w+|http_\w+|rag_chatbot_\w+)(?![\w:])"
)
RECORDED = re.compile(r"(?<![\w:])([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)(?![\w:])")
TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)

needs_promtool = pytest.mark.usefixtures("promtool_installed")


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rules(name: str) -> list[dict[str, object]]:
    groups = yaml.safe_load((MONITORING / name).read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> list[dict[str, object]]:
    return rules("alerts.yml")


def recordings() -> list[dict[str, object]]:
    return rules("rules.yml")


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def queries() -> list[str]:
    """Every PromQL the rules and the dashboard run, annotation templates' queries included."""
    found = [str(r["expr"]) for r in alerts() + recordings()] + dashboard_queries()
    for rule in alerts():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        found += [t for text in annotations.values() for t in TEMPLATE.findall(str(text))]
    return found


@needs_promtool
def test_promtool_accepts_the_rules_and_both_scrape_configs(tmp_path: Path) -> None:
    for name in RULE_FILES:
        checked = promtool("check", "rules", name)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"SUCCESS: {len(rules(name))} rules found" in checked.stdout
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    # Debian's Prometheus has no Kubernetes discovery: check the rest of the file (relabelling,
    # rule files) with a static target in its place.
    kubernetes = yaml.safe_load((MONITORING / "prometheus-kubernetes.yml").read_text())
    for job in kubernetes["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")[0]["namespaces"]["names"] == ["rag-chatbot"]
        job["static_configs"] = [{"targets": ["127.0.0.1:9"]}]
    kubernetes["rule_files"] = [str(MONITORING / f) for f in kubernetes["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(kubernetes))
    config = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert config.returncode == 0, config.stdout + config.stderr


@needs_promtool
@pytest.mark.parametrize("tests", ["rules.test.yml", *ALERT_TESTS])
def test_promtool_unit_tests_pass(tests: str) -> None:
    tested = promtool("test", "rules", tests)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def _only_cases_of(tests: str, alert: str) -> dict[str, object] | None:
    """The unit-test file ``tests`` cut down to the cases that check ``alert``, or None."""
    suite = yaml.safe_load((MONITORING / tests).read_text())
    suite["tests"] = [
        case
        for case in suite["tests"]
        if any(check["alertname"] == alert for check in case.get("alert_rule_test", []))
    ]
    return suite if suite["tests"] else None


@needs_promtool
def test_each_alert_is_needed_by_the_unit_tests(tmp_path: Path) -> None:
    shutil.copy(MONITORING / "rules.yml", tmp_path)
    for rule in alerts():
        name = str(rule["alert"])
        groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())
        for group in groups["groups"]:
            for candidate in group["rules"]:
                if candidate["alert"] == name:
                    candidate["expr"] = "vector(1) > 2"  # never fires
        (tmp_path / "alerts.yml").write_text(yaml.safe_dump(groups))
        suites = {t: s for t in ALERT_TESTS if (s := _only_cases_of(t, name)) is not None}
        assert suites, f"no unit test checks {name}"
        for tests, suite in suites.items():
            (tmp_path / tests).write_text(yaml.safe_dump(suite))
            tested = promtool("test", "rules", tests, cwd=tmp_path)
            assert tested.returncode != 0, f"{tests} passes without {name}"
            assert f"alertname: {name}" in tested.stdout + tested.stderr


@needs_promtool
def test_each_recording_rule_is_needed_by_the_unit_tests(tmp_path: Path) -> None:
    shutil.copy(MONITORING / "rules.test.yml", tmp_path)
    count = len(recordings())
    for index in range(count):
        groups = yaml.safe_load((MONITORING / "rules.yml").read_text())
        rule = [r for g in groups["groups"] for r in g["rules"]][index]
        rule["expr"] = f"({rule['expr']}) + 1"  # every value off by one
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(groups))
        tested = promtool("test", "rules", "rules.test.yml", cwd=tmp_path)
        assert tested.returncode != 0, f"rules.test.yml passes with {rule['record']} wrong"


def test_unit_tests_name_only_alerts_that_exist() -> None:
    names = {str(rule["alert"]) for rule in alerts()}
    for tests in ALERT_TESTS:
        suite = yaml.safe_load((MONITORING / tests).read_text())
        assert suite["rule_files"] == list(RULE_FILES), tests  # recorded series first
        checked = {c["alertname"] for t in suite["tests"] for c in t.get("alert_rule_test", [])}
        assert checked <= names, f"{tests}: {sorted(checked - names)}"


def test_thresholds_are_the_ones_operators_expect() -> None:
    expected = {
        "RagChatbotDown": ("critical", "== 0"),
        "RagChatbotErrorRateCritical": ("critical", "job:http_requests_5xx:ratio_rate5m"),
        "RagChatbotErrorRateHigh": ("warning", "> 0.01"),
        "RagChatbotLatencyCritical": ("critical", 'le="10.0"'),
        "RagChatbotLatencyHigh": ("warning", 'le="5.0"'),
        "RagChatbotMemoryCritical": ("critical", "> 0.95"),
        "RagChatbotMemoryHigh": ("warning", "> 0.85"),
        "RagChatbotCpuHigh": ("warning", "> 0.80"),
        "RagChatbotDiskFull": ("critical", "> 0.95"),
        "RagChatbotVolumeFull": ("critical", "> 0.95"),
        "RagChatbotDbPoolSaturated": ("warning", "> 0.80"),
        "RagChatbotJobQueueGrowing": ("warning", "offset 30m"),
        "RagChatbotJobsStalled": ("warning", "< 1"),
        "RagChatbotJobTasksFailing": ("warning", "> 0.10"),
        "RagChatbotNodeMemoryCritical": (
            "critical",
            "instance:node_memory_utilisation:ratio > 0.95",
        ),
        "RagChatbotNodeMemoryHigh": ("warning", "instance:node_memory_utilisation:ratio > 0.85"),
        "RagChatbotNodeCpuHigh": ("warning", "instance:node_cpu_utilisation:rate5m > 0.80"),
        "RagChatbotNodeDiskFull": ("critical", "node_filesystem_usage:ratio > 0.95"),
        "RagChatbotNodeExporterDown": ("warning", 'up{job="node"} == 0'),
        "RagChatbotDeploymentCompleted": ("info", "rag_chatbot_deploy_last_success"),
        "RagChatbotBackupCompleted": ("info", "rag_chatbot_backup_last_success"),
        "RagChatbotBackupMissing": ("warning", "> 26 * 3600"),
        "RagChatbotCertificateExpiring": ("info", "< 30 * 86400"),
        "RagChatbotHighTraffic": ("info", "offset 1w"),
    }
    found = {str(r["alert"]): r for r in alerts()}
    assert set(found) == set(expected)
    assert 'job:http_requests_5xx:ratio_rate5m{job="rag-chatbot"} > 0.05' in str(
        found["RagChatbotErrorRateCritical"]["expr"]
    )
    runbook = _anchors((ROOT / "docs" / "runbook.md").read_text())
    for name, (severity, fragment) in expected.items():
        rule = found[name]
        assert rule["labels"] == {"severity": severity}, name  # type: ignore[comparison-overlap]
        assert fragment in str(rule["expr"]), name
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert set(annotations) == {"summary", "description", "runbook"}, name
        anchor = str(annotations["runbook"]).split("#")[1]
        assert anchor in runbook, f"{name}: no section #{anchor} in the runbook"


def _anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-") for h in headings}


def test_recorded_series_are_read_only_where_recorded_and_named_by_convention() -> None:
    defined = {str(rule["record"]) for rule in recordings()}
    for name in defined:  # level:metric:operations
        level, metric, operations = name.split(":")
        assert level and operations and not metric.endswith("_total"), name
    read = {m for query in queries() for m in RECORDED.findall(query)}
    assert read - defined == set(), "read but never recorded"
    assert {"job:http_requests_5xx:ratio_rate5m", "instance:node_memory_utilisation:ratio"} <= read
    # Alerts read rules.yml's series: Prometheus must load it too, before alerts.yml.
    for config in ("prometheus.yml", "prometheus-kubernetes.yml"):
        loaded = yaml.safe_load((MONITORING / config).read_text())["rule_files"]
        assert loaded == list(RULE_FILES), config


@pytest.mark.integration
def test_every_metric_read_comes_from_the_app_or_a_named_exporter(container: Container) -> None:
    with TestClient(create_app(container)) as client:
        client.get("/api/health")
        client.post("/api/chat", json={"message": "When does the fog horn sound?"})
        exposition = client.get("/api/metrics").text
    samples = [s for f in text_string_to_metric_families(exposition) for s in f.samples]
    exposed = {sample.name for sample in samples}
    read = {m for query in queries() for m in METRIC.findall(query)}
    elsewhere = {
        m
        for m in read
        if m in FROM_PROMETHEUS | FROM_TEXTFILES
        or FROM_KUBELET.match(m)
        or FROM_NODE_EXPORTER.match(m)
    }
    missing = read - elsewhere - exposed
    assert not missing, f"read by rules or panels but not exposed: {sorted(missing)}"
    assert {"rag_chatbot_db_pool_in_use", "rag_chatbot_memory_usage_bytes"} <= read
    assert read >= FROM_TEXTFILES and "node_memory_MemAvailable_bytes" in read
    # The latency alerts' bucket bounds, and 2 s (the p95 objective), are real buckets.
    buckets = {s.labels["le"] for s in samples if s.name == "http_request_duration_seconds_bucket"}
    bounds = {b for q in queries() for b in re.findall(r'\ble="([^"]+)"', q)}
    assert bounds == {"5.0", "10.0"} and bounds | {"2.0"} <= buckets


def test_the_textfile_metrics_read_are_the_ones_the_project_writes() -> None:
    writers = [*(ROOT / "scripts").glob("*.sh"), *(ROOT / "src" / "rag_chatbot").rglob("*.py")]
    written = "\n".join(path.read_text() for path in writers)
    assert not [m for m in FROM_TEXTFILES if m not in written], "read but written nowhere"


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    dashboard = dashboard_queries()
    assert len(dashboard) >= 15
    recording = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(dashboard)
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
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["gridPos"]["w"] > 0
    # The HTTP error ratio and percentiles come from rules.yml, as the alerts read them.
    raw = [q for q in dashboard if "http_request_duration_seconds_bucket" in q or "5.." in q]
    assert not raw


def test_the_scrape_configs_find_the_backends_and_the_node_exporter() -> None:
    config = yaml.safe_load((MONITORING / "prometheus-kubernetes.yml").read_text())
    backend, node = config["scrape_configs"]
    assert backend["job_name"] == "rag-chatbot" and backend["metrics_path"] == "/api/metrics"
    keep = [r for r in backend["relabel_configs"] if r.get("action") == "keep"]
    assert any(r["regex"] == "rag-backend|rag-worker" for r in keep)
    # The DaemonSet's pods: label app.kubernetes.io/name=node-exporter, port named "metrics".
    assert node["job_name"] == "node"
    keep = {
        tuple(r["source_labels"]): r["regex"]
        for r in node["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert keep == {
        ("__meta_kubernetes_pod_label_app_kubernetes_io_name",): "node-exporter",
        ("__meta_kubernetes_pod_container_port_name",): "metrics",
    }
    compose = yaml.safe_load((MONITORING / "prometheus.yml").read_text())["scrape_configs"]
    assert [j["job_name"] for j in compose] == ["rag-chatbot", "node"]
    assert compose[1]["static_configs"] == [{"targets": ["node-exporter:9100"]}]
