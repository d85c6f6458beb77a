"""End to end against a real `rag-chatbot serve` process: JSON, SSE, metrics, logs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import ingest, start_server, stop
from sse import sse_events

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path
) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("server")
    # The log checks below read JSON lines.
    env = {"DATA_DIR": str(root / "data"), "LOG_DIR": str(root / "logs"), "LOG_FORMAT": "json"}
    ingest(fixture_corpus, {**os.environ, **env})
    process, base = start_server(root, env)
    yield base, root / "logs"
    stop(process)


def test_chat_json_and_sse_against_a_real_server(server: tuple[str, Path]) -> None:
    base, _ = server
    answer = httpx.post(
        f"{base}/api/chat", json={"message": "When does the fog horn sound?"}, timeout=30
    ).json()
    assert answer["grounded"] and answer["citations"][0]["url"] == "/read/lighthouse.md#fog-signals"

    with httpx.stream(
        "POST",
        f"{base}/api/chat",
        json={"message": "How hot should green tea water be?", "stream": True},
        timeout=30,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
    assert events[-1][0] == "answer"
    final = events[-1][1]
    assert final["grounded"] is True
    assert "80 degrees" in str(final["answer"])


def test_metrics_and_logs_of_a_real_server(server: tuple[str, Path]) -> None:
    base, logs = server
    reader = {"X-Client-Token": "a-browser-token-0123456789"}
    httpx.get(f"{base}/api/sessions/does-not-exist", headers=reader, timeout=10)
    httpx.post(f"{base}/api/chat", json={"message": "What is written in the logbook?"}, timeout=30)
    metrics = httpx.get(f"{base}/api/metrics", timeout=10).text
    assert (
        'http_requests_total{method="GET",path="/api/sessions/{session_id}",status="404"}'
        in metrics
    )
    assert "rag_chatbot_retrieval_seconds" in metrics

    access = [json.loads(line) for line in (logs / "access.log").read_text().splitlines()]
    assert any(a["path"] == "/api/sessions/does-not-exist" and a["status"] == 404 for a in access)
    app_log = [json.loads(line) for line in (logs / "app.log").read_text().splitlines()]
    chat_events = [e for e in app_log if e.get("event") == "chat_request"]
    assert chat_events and chat_events[-1]["response_time"] > 0
    assert all("logbook" not in json.dumps(e) for e in app_log)  # user text only at DEBUG
