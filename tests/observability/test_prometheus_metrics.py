"""The metrics module: helpers, exposition, and multiprocess aggregation across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from rag_chatbot import __version__
from rag_chatbot.observability import metrics


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_helpers_update_their_metrics() -> None:
    grounded = _value("rag_chatbot_chat_requests_total", grounded="true")
    ungrounded = _value("rag_chatbot_chat_requests_total", grounded="false")
    hits, misses = _value("rag_chatbot_cache_hits_total"), _value("rag_chatbot_cache_misses_total")
    retrievals = _value("rag_chatbot_retrieval_seconds_count")
    generations = _value("rag_chatbot_generation_seconds_count")
    failures = _value("rag_chatbot_ingest_failures_total")

    metrics.record_chat(grounded=True)
    metrics.record_chat(grounded=False)
    metrics.record_cache(hit=True)
    metrics.record_cache(hit=False)
    metrics.record_ingest_failures(2)
    with metrics.observe_retrieval():
        pass
    with pytest.raises(KeyError), metrics.observe_generation():
        raise KeyError("generation failures are timed too")
    metrics.set_index_size(documents=3, chunks=40)
    metrics.set_db_pool(in_use=4, size=15)

    assert _value("rag_chatbot_chat_requests_total", grounded="true") == grounded + 1
    assert _value("rag_chatbot_chat_requests_total", grounded="false") == ungrounded + 1
    assert _value("rag_chatbot_cache_hits_total") == hits + 1
    assert _value("rag_chatbot_cache_misses_total") == misses + 1
    assert _value("rag_chatbot_ingest_failures_total") == failures + 2
    assert _value("rag_chatbot_retrieval_seconds_count") == retrievals + 1
    assert _value("rag_chatbot_generation_seconds_count") == generations + 1
    assert _value("rag_chatbot_documents_indexed") == 3
    assert _value("rag_chatbot_chunks_indexed") == 40
    assert _value("rag_chatbot_db_pool_in_use") == 4
    assert _value("rag_chatbot_db_pool_size") == 15


def test_render_latest_is_parseable_prometheus_text() -> None:
    metrics.record_http_request("GET", "/api/health", 200, 0.012)
    body, content_type = metrics.render_latest()
    assert content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode("utf-8"))}
    for name in (
        "http_requests",
        "http_request_duration_seconds",
        "rag_chatbot_retrieval_seconds",
        "rag_chatbot_generation_seconds",
        "rag_chatbot_cache_hits",
        "rag_chatbot_cache_misses",
        "rag_chatbot_documents_indexed",
        "rag_chatbot_chunks_indexed",
        "rag_chatbot_ingest_failures",
        "rag_chatbot_chat_requests",
        "rag_chatbot_db_pool_in_use",
        "rag_chatbot_db_pool_size",
        "rag_chatbot_build_info",
    ):
        assert name in families, name
    (info,) = families["rag_chatbot_build_info"].samples
    assert info.labels == {"version": __version__} and info.value == 1
    buckets = {
        s.labels["le"]
        for s in families["http_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert {"0.005", "10.0", "+Inf"} <= buckets


def test_prepare_multiprocess_dir_creates_empties_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # setenv records the original state, so the export below is undone after the test.
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "unset-after-test")
    target = tmp_path / "new" / "prom"
    metrics.prepare_multiprocess_dir(target)
    assert target.is_dir() and os.environ[metrics.MULTIPROC_ENV] == str(target)

    (target / "counter_123.db").write_bytes(b"stale")
    (target / "README").write_text("not ours", encoding="utf-8")
    metrics.prepare_multiprocess_dir(target)
    assert sorted(p.name for p in target.iterdir()) == ["README"]


def test_outside_multiprocess_mode_mark_process_dead_is_a_no_op() -> None:
    assert not metrics.multiprocess_enabled()
    metrics.mark_process_dead(os.getpid())


_WORKER = """
import sys
from rag_chatbot.observability import metrics
n = int(sys.argv[1])
for _ in range(n):
    metrics.record_chat(grounded=True)
metrics.record_http_request("GET", "/api/chat", 200, 0.02)
metrics.set_db_pool(in_use=n, size=10)
metrics.set_index_size(documents=n, chunks=10 * n)
print(__import__("os").getpid())
"""

_SCRAPER = """
import sys
from rag_chatbot.observability import metrics
assert metrics.multiprocess_enabled()
sys.stdout.write(metrics.render_latest()[0].decode())
print("#MARK-DEAD")
metrics.mark_process_dead(int(sys.argv[1]))
sys.stdout.write(metrics.render_latest()[0].decode())
"""

_SUPERVISOR = """
import os, subprocess, sys
from pathlib import Path
target, worker, scraper = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
target.mkdir(exist_ok=True)
(target / "counter_99999.db").write_bytes(b"left over from a previous run")
from rag_chatbot.observability.metrics import prepare_multiprocess_dir
prepare_multiprocess_dir(target)
# Only this process's own files (when it already wrote there) survive.
left = {p.name for p in target.iterdir()}
assert all(name.endswith(f"_{os.getpid()}.db") for name in left), left
pids = []
for n in (1, 2):  # one after the other, so "most recent" is the second worker
    done = subprocess.run([sys.executable, "-c", worker, str(n)], check=True,
                          capture_output=True, text=True)
    pids.append(int(done.stdout))
done = subprocess.run([sys.executable, "-c", scraper, str(pids[0])], check=True,
                      capture_output=True, text=True)
sys.stdout.write(done.stdout)
"""


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.integration
@pytest.mark.parametrize(
    "set_before_import", [False, True], ids=["set-by-serve", "set-by-operator"]
)
def test_multiprocess_mode_sums_counters_of_all_processes(
    tmp_path: Path, set_before_import: bool
) -> None:
    """Two workers record, a third process renders the sum — as behind ``serve --workers``.

    ``set-by-serve``: the parent imports the metrics before the variable exists and
    ``prepare_multiprocess_dir`` exports it; ``set-by-operator``: it is set from the start.
    """
    target = tmp_path / "prom"
    env = {k: v for k, v in os.environ.items() if k != metrics.MULTIPROC_ENV}
    if set_before_import:
        env[metrics.MULTIPROC_ENV] = str(target)
    script = textwrap.dedent(_SUPERVISOR)
    done = subprocess.run(
        [sys.executable, "-c", script, str(target), _WORKER, _SCRAPER],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    both_alive, one_dead = (_samples(part) for part in done.stdout.split("#MARK-DEAD"))

    chat = ("rag_chatbot_chat_requests_total", frozenset({("grounded", "true")}))
    http = (
        "http_requests_total",
        frozenset({("method", "GET"), ("path", "/api/chat"), ("status", "200")}),
    )
    assert both_alive[chat] == 3  # 1 + 2
    assert both_alive[http] == 2
    assert both_alive[("rag_chatbot_db_pool_size", frozenset())] == 20  # livesum
    assert both_alive[("rag_chatbot_db_pool_in_use", frozenset())] == 3
    assert both_alive[("rag_chatbot_documents_indexed", frozenset())] == 2  # most recent
    assert both_alive[("rag_chatbot_chunks_indexed", frozenset())] == 20
    build = ("rag_chatbot_build_info", frozenset({("version", __version__)}))
    assert both_alive[build] == 1

    # A dead worker's counters stay in the totals; its live gauges no longer count.
    assert one_dead[chat] == 3
    assert one_dead[("rag_chatbot_db_pool_size", frozenset())] == 10
    assert one_dead[("rag_chatbot_db_pool_in_use", frozenset())] == 2
