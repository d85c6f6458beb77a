"""A real Prometheus, configured by deploy/monitoring/prometheus.yml, scraping a real
`rag-chatbot serve` and a real node exporter whose textfile collector reads files in the
format scripts/ write (backups, deployments, the TLS certificate).

Only the targets' addresses and the intervals (1 s, so it takes seconds) differ from the
shipped file. It proves what promtool cannot: the node exporter exposes every node_* series
the rules read, Prometheus loads rules.yml and alerts.yml and evaluates every rule without an
error on live data, the recorded series have sane values, and the event alerts fire from the
textfiles.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from test_monitoring import FROM_NODE_EXPORTER, FROM_TEXTFILES, METRIC, MONITORING, queries
from testing_secrets import TEST_JWT_SECRET

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
PROMETHEUS = shutil.which("prometheus")
DAY = 86400


@dataclass
class Stack:
    root: Path
    app: str
    node_exporter: str
    prometheus: str


def _textfiles(folder: Path, now: float) -> None:
    """The files scripts/ write for the textfile collector, as the textfile contract has them."""
    folder.mkdir()
    files = {
        "rag_chatbot_backup.database.prom": (
            f'rag_chatbot_backup_last_success_timestamp_seconds{{kind="database"}} {now:.0f}\n'
            'rag_chatbot_backup_last_size_bytes{kind="database"} 1048576\n'
        ),
        "rag_chatbot_deploy.prom": (
            "rag_chatbot_deploy_last_success_timestamp_seconds"
            f'{{environment="production",version="v1.2.0"}} {now:.0f}\n'
        ),
        "rag_chatbot_tls.prom": (
            "rag_chatbot_tls_cert_expiry_timestamp_seconds"
            f'{{path="/etc/nginx/ssl/cert.pem"}} {now + 10 * DAY:.0f}\n'
        ),
    }
    for name, text in files.items():
        (folder / f"{name}.tmp").write_text(text)
        (folder / f"{name}.tmp").rename(folder / name)


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(log.read_text()[-3000:])


def _prometheus_config(app: str, node_exporter: str) -> dict[str, object]:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(MONITORING / name) for name in config["rule_files"]]
    targets = {"rag-chatbot": app, "node": node_exporter}
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if NODE_EXPORTER is None or PROMETHEUS is None:
        pytest.fail(
            "prometheus or the node exporter is missing (apt-get install prometheus "
            "prometheus-node-exporter); scripts/test.sh installs them"
        )
    from servers import free_port, start_server, stop

    root = tmp_path_factory.mktemp("monitoring")
    now = time.time()
    _textfiles(root / "textfiles", now)
    env = {"DATA_DIR": str(root / "data"), "ENVIRONMENT": "test", "JWT_SECRET_KEY": TEST_JWT_SECRET}
    server, base = start_server(root, env)
    processes: list[subprocess.Popen[bytes]] = []

    def launch(command: list[str], log: Path, ready: str) -> None:
        with log.open("wb") as out:
            processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT))
        _wait_for(ready, processes[-1], log)

    try:
        node_port, prom_port = free_port(), free_port()
        node = f"127.0.0.1:{node_port}"
        launch(
            [
                NODE_EXPORTER,
                f"--web.listen-address={node}",
                f"--collector.textfile.directory={root / 'textfiles'}",
            ],
            root / "node-exporter.log",
            f"http://{node}/metrics",
        )
        config = _prometheus_config(base.removeprefix("http://"), node)
        (root / "prometheus.yml").write_text(yaml.safe_dump(config))
        launch(
            [
                PROMETHEUS,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            root / "prometheus.log",
            f"http://127.0.0.1:{prom_port}/-/ready",
        )
        yield Stack(root, base, f"http://{node}", f"http://127.0.0.1:{prom_port}")
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
        stop(server)


def _query(stack: Stack, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def _get(stack: Stack, path: str) -> Any:
    answer = httpx.get(f"{stack.prometheus}{path}", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _until(check: Callable[[], Any], seconds: float = 60, traffic: Stack | None = None) -> Any:
    """Retry ``check`` until it returns something truthy; send user requests meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        if traffic is not None:
            httpx.post(f"{traffic.app}/api/search", json={"query": "fog horn"}, timeout=10)
            httpx.get(f"{traffic.app}/api/health", timeout=10)
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _value(series: dict[str, Any]) -> float:
    return float(series["value"][1])


@pytest.mark.slow
@pytest.mark.integration
def test_the_node_exporter_serves_every_node_series_the_rules_read(stack: Stack) -> None:
    exposition = httpx.get(f"{stack.node_exporter}/metrics", timeout=10).text
    samples = [s for f in text_string_to_metric_families(exposition) for s in f.samples]
    exposed = {s.name for s in samples}
    read = {m for query in queries() for m in METRIC.findall(query)}
    node = {m for m in read if FROM_NODE_EXPORTER.match(m)}
    assert {"node_memory_MemTotal_bytes", "node_cpu_seconds_total"} <= node
    assert node <= exposed, sorted(node - exposed)
    assert read >= FROM_TEXTFILES and exposed >= FROM_TEXTFILES
    errors = [s.value for s in samples if s.name == "node_textfile_scrape_error"]
    assert errors == [0]


@pytest.mark.slow
@pytest.mark.integration
def test_prometheus_evaluates_every_rule_without_an_error(stack: Stack) -> None:
    def rules() -> list[dict[str, Any]]:
        return [r for g in _get(stack, "/api/v1/rules")["groups"] for r in g["rules"]]

    def evaluated() -> bool:  # every rule at least once (an unset time is year 1)
        return bool(rules()) and not [r for r in rules() if r["lastEvaluation"].startswith("0001")]

    assert _until(evaluated, traffic=stack)
    loaded = sorted(g["name"] for g in _get(stack, "/api/v1/rules")["groups"])
    shipped = sorted(
        g["name"]
        for name in ("rules.yml", "alerts.yml")
        for g in yaml.safe_load((MONITORING / name).read_text())["groups"]
    )
    assert loaded == shipped
    unhealthy = [(r["name"], r.get("lastError")) for r in rules() if r["health"] != "ok"]
    assert not unhealthy


@pytest.mark.slow
@pytest.mark.integration
def test_recorded_series_read_sensibly_from_live_scrapes(stack: Stack) -> None:
    def recorded() -> dict[str, list[dict[str, Any]]]:
        wanted = {
            "rate": 'job:http_requests:rate5m{job="rag-chatbot"} > 0',
            "errors": 'job:http_requests_5xx:ratio_rate5m{job="rag-chatbot"}',
            "p95": "job_quantile:http_request_duration_seconds:histogram_quantile"
            '{quantile="0.95"} > 0',
            "search": 'job_path:http_requests:rate5m{path="/api/search"} > 0',
            "memory": "instance:node_memory_utilisation:ratio",
            "cpu": "instance:node_cpu_utilisation:rate5m",
            "disks": "instance_mountpoint:node_filesystem_usage:ratio",
        }
        found = {key: _query(stack, promql) for key, promql in wanted.items()}
        return found if all(found.values()) else {}

    found = _until(recorded, traffic=stack)
    assert found, "recorded series missing after 60 s of traffic"
    # Only successful requests were made: 0, not a gap and not NaN.
    assert [_value(s) for s in found["errors"]] == [0.0]
    assert 0 < _value(found["p95"][0]) <= 10
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total, available = (float(meminfo[k].split()[0]) for k in ("MemTotal", "MemAvailable"))
    assert abs(_value(found["memory"][0]) - (1 - available / total)) < 0.1
    assert 0 <= _value(found["cpu"][0]) <= 1
    assert all(0 <= _value(s) <= 1 for s in found["disks"])


@pytest.mark.slow
@pytest.mark.integration
def test_event_alerts_fire_from_the_textfiles(stack: Stack) -> None:
    wanted = {
        "RagChatbotDeploymentCompleted",
        "RagChatbotBackupCompleted",
        "RagChatbotCertificateExpiring",
    }

    def firing() -> dict[str, dict[str, Any]]:
        alerts = _get(stack, "/api/v1/alerts")["alerts"]
        found = {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}
        return found if wanted <= set(found) else {}

    alerts = _until(firing)
    assert alerts, "the event alerts did not fire within 60 s"
    assert alerts["RagChatbotDeploymentCompleted"]["labels"]["version"] == "v1.2.0"
    backup = alerts["RagChatbotBackupCompleted"]["annotations"]["description"]
    assert backup.startswith("1MiB written "), backup
    certificate = alerts["RagChatbotCertificateExpiring"]["annotations"]["summary"]
    assert certificate.startswith("TLS certificate /etc/nginx/ssl/cert.pem expires in 9d 23h")
    assert {alerts[name]["labels"]["severity"] for name in wanted} == {"info"}
    quiet = {"RagChatbotBackupMissing", "RagChatbotDown", "RagChatbotNodeExporterDown"}
    assert not quiet & set(alerts)
