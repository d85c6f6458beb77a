"""scripts/performance-report.sh (``rag-chatbot report performance``) against a real server.

Forty requests are sent to a real ``rag-chatbot serve``, two of which fail for real with
HTTP 500 (the feedback table is renamed away under the running server, then put back); the
report's figures, from /api/metrics and from app.log, must be the ones sent. The parsing of
histograms and log lines is also checked on exact inputs.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deployments import QUESTION, ROOT, deployment, script, serving
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from rag_chatbot.ops.logstats import exact_percentile, parse_line
from rag_chatbot.ops.scrape import histogram_quantile, parse_scrape

FEEDBACK = "/api/messages/{message_id}/feedback"


@pytest.fixture(scope="module")
def traffic(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("traffic")
    env = deployment(root, fixture_corpus)
    with serving(root, env) as base:
        sent = _send_forty(base, Path(env["DATA_DIR"]) / "rag-chatbot.db")
        yield {"env": env, "base": base, "sent": sent}


def _send_forty(base: str, database: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """40 requests; returns (method, route) -> (requests, 5xx) as sent."""
    client = httpx.Client(base_url=base, headers={"X-Client-Token": secrets.token_hex(16)})
    answers = [client.post("/api/chat", json={"message": QUESTION}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    for _ in range(24):
        assert client.get("/api/documents").status_code == 200
    for _ in range(6):
        assert client.get("/api/documents/no-such-document").status_code == 404
    message = answers[0].json()["message_id"]
    for _ in range(4):
        assert client.post(f"/api/messages/{message}/feedback", json={"rating": 1}).is_success
    # A real fault: the table is gone while the server runs, so its query fails.
    with sqlite3.connect(database) as connection:
        connection.execute("ALTER TABLE feedback RENAME TO feedback_away")
    try:
        for _ in range(2):
            # A new connection each: the server closes one after an unexpected error.
            failed = httpx.post(
                f"{base}/api/messages/{message}/feedback",
                json={"rating": -1},
                headers=client.headers,
                timeout=30,
            )
            assert failed.status_code == 500, failed.text
    finally:
        with sqlite3.connect(database) as connection:
            connection.execute("ALTER TABLE feedback_away RENAME TO feedback")
    return {
        ("POST", "/api/chat"): (4, 0),
        ("GET", "/api/documents"): (24, 0),
        ("GET", "/api/documents/{document_id}"): (6, 0),
        ("POST", FEEDBACK): (6, 2),
    }


def _report(traffic: dict[str, Any], *args: str) -> dict[str, Any]:
    ran = script(
        "performance-report.sh", "--json", "--url", traffic["base"], *args, env=traffic["env"]
    )
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout)
    return report


def _by_route(section: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["method"], r["route"]): r for r in section["routes"]}


@pytest.mark.slow
@pytest.mark.integration
def test_the_report_counts_what_was_sent(traffic: dict[str, Any]) -> None:
    report = _report(traffic, "--since", "1h")
    for section in (report["metrics"], report["logs"]):
        routes = _by_route(section)
        for key, (count, errors) in traffic["sent"].items():
            assert routes[key]["requests"] == count, (key, section["source"])
            assert routes[key]["errors"] == errors
            assert routes[key]["error_rate"] == pytest.approx(errors / count, abs=1e-5)
            p50, p95, p99 = (routes[key][f"p{q}_ms"] for q in (50, 95, 99))
            assert 0 < p50 <= p95 <= p99 < 10_000
        assert routes[("GET", "/api/documents/{document_id}")]["client_errors"] == 6
        # Only health checks and scrapes come on top of the 40, and none of them failed.
        assert section["errors"] == 2
        ours = sum(count for count, _ in traffic["sent"].values())
        others = {k: r["requests"] for k, r in routes.items() if k not in traffic["sent"]}
        assert set(others) <= {("GET", "/api/health"), ("GET", "/api/metrics")}
        assert section["requests"] == ours + sum(others.values())
        assert section["error_rate"] == pytest.approx(2 / section["requests"], abs=1e-5)
        assert section["per_second"] > 0
        assert {(s["method"], s["route"]) for s in section["slowest"]} <= set(routes)
    metrics = report["metrics"]
    assert "process_start_time_seconds" in metrics["throughput_basis"]
    # The same question four times: answered once, then three times from the cache.
    assert metrics["cache"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
    assert report["database"]["note"] == "statement statistics need PostgreSQL"


@pytest.mark.slow
@pytest.mark.integration
def test_a_window_counts_only_the_requests_between_its_two_scrapes(
    traffic: dict[str, Any],
) -> None:
    log = Path(traffic["env"]["LOG_DIR"]) / "app.log"
    scrapes_before = log.read_text().count("route=/api/metrics ")
    report = subprocess.Popen(
        [str(ROOT / "scripts" / "performance-report.sh"), "--json", "--window", "6"],
        env={**os.environ, **traffic["env"], "RAG_CHATBOT_URL": traffic["base"]},
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while log.read_text().count("route=/api/metrics ") == scrapes_before:
        assert time.monotonic() < deadline and report.poll() is None
        time.sleep(0.1)
    for _ in range(7):  # between the first scrape and the second, 6 s later
        httpx.get(f"{traffic['base']}/api/documents", timeout=10)
    out, _ = report.communicate(timeout=120)
    metrics = json.loads(out)["metrics"]
    assert "between two scrapes 6 s apart" in metrics["throughput_basis"]
    routes = _by_route(metrics)
    assert routes[("GET", "/api/documents")]["requests"] == 7
    assert routes[("GET", "/api/documents")]["per_second"] == pytest.approx(7 / 6, rel=0.1)
    assert set(routes) <= {("GET", "/api/documents"), ("GET", "/api/metrics")}


@pytest.mark.slow
@pytest.mark.integration
def test_the_text_report_says_where_each_figure_comes_from(traffic: dict[str, Any]) -> None:
    ran = script("performance-report.sh", "--url", traffic["base"], env=traffic["env"])
    assert ran.returncode == 0, ran.stderr
    assert "estimated from histogram buckets" in ran.stdout
    assert "latency exact" in ran.stdout
    assert f"POST {FEEDBACK}" in ran.stdout
    assert "slowest by p95: " in ran.stdout


def test_the_report_fails_when_it_can_read_nothing(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "LOG_DIR": str(tmp_path / "logs")}
    ran = script("performance-report.sh", "--url", "http://127.0.0.1:9", env=env)
    assert ran.returncode == 1
    assert "neither /api/metrics nor the logs could be read" in ran.stderr
    assert "unavailable: ConnectError" in ran.stdout


def test_bucket_interpolation_matches_prometheus_histogram_quantile() -> None:
    registry = CollectorRegistry()
    histogram = Histogram(
        "http_request_duration_seconds",
        "test",
        ["method", "path"],
        buckets=(0.1, 0.2, 0.4),
        registry=registry,
    )
    route = histogram.labels(method="GET", path="/api/x")
    for value, times in ((0.05, 10), (0.15, 10), (0.3, 18), (7.0, 2)):
        for _ in range(times):
            route.observe(value)
    buckets = parse_scrape(generate_latest(registry).decode()).routes[("GET", "/api/x")].buckets
    assert buckets == {0.1: 10, 0.2: 20, 0.4: 38, float("inf"): 40}
    # rank 20 of 40 is the top of the (0.1, 0.2] bucket; rank 38 the top of (0.2, 0.4];
    # rank 30 is 10 of that bucket's 18; rank 39.6 falls in +Inf: its lower bound.
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.2)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.2 + 0.2 * 10 / 18)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.4)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.4)
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.04)  # first bucket from 0
    assert histogram_quantile(0.5, {float("inf"): 0}) is None


def test_both_log_formats_are_read() -> None:
    text = (
        "2024-05-01T10:00:00.123Z INFO rag_chatbot.http response_time 42 method=GET "
        "path=/api/documents/abc route=/api/documents/{document_id} status=404 request_id=r1"
    )
    as_json = json.dumps(
        {
            "timestamp": "2024-05-01T10:00:01.000Z",
            "level": "INFO",
            "logger": "rag_chatbot.http",
            "event": "response_time",
            "duration_ms": 12.5,
            "method": "POST",
            "path": "/api/chat",
            "route": "/api/chat",
            "status": 500,
        }
    )
    first, second = parse_line(text), parse_line(as_json)
    assert first is not None and second is not None
    assert (first.method, first.route, first.status, first.ms) == (
        "GET",
        "/api/documents/{document_id}",
        404,
        42.0,
    )
    assert (second.method, second.route, second.status, second.ms) == (
        "POST",
        "/api/chat",
        500,
        12.5,
    )
    assert first.at.isoformat() == "2024-05-01T10:00:00.123000+00:00"
    chat = "2024-05-01T10:00:00Z INFO rag_chatbot.answering.chat chat_request grounded=true"
    assert parse_line(chat) is None
    assert parse_line('{"event": "chat_request"}') is None


def test_log_percentiles_are_exact_nearest_ranks() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert exact_percentile(0.5, values) == 50
    assert exact_percentile(0.95, values) == 95
    assert exact_percentile(0.99, values) == 99
    assert exact_percentile(0.99, [7.0]) == 7
    assert exact_percentile(0.5, []) is None


@pytest.mark.slow
@pytest.mark.integration
def test_json_logs_give_the_same_figures(tmp_path: Path, fixture_corpus: Path) -> None:
    env = {**deployment(tmp_path, fixture_corpus), "LOG_FORMAT": "json"}
    with serving(tmp_path, env) as base:
        for _ in range(5):
            assert httpx.get(f"{base}/api/documents", timeout=10).status_code == 200
        for _ in range(2):
            assert httpx.get(f"{base}/api/documents/gone", timeout=10).status_code == 404
        report = _report({"base": base, "env": env})
    first = (Path(env["LOG_DIR"]) / "app.log").read_text().splitlines()[0]
    assert json.loads(first)["timestamp"]  # the service did write JSON
    logs, metrics = _by_route(report["logs"]), _by_route(report["metrics"])
    assert logs[("GET", "/api/documents")]["requests"] == 5
    assert logs[("GET", "/api/documents/{document_id}")]["client_errors"] == 2
    for key in (("GET", "/api/documents"), ("GET", "/api/documents/{document_id}")):
        assert logs[key]["requests"] == metrics[key]["requests"]
