"""Scrape-time metrics the alert rules use: database pool usage and container resources.

The pool is a real PostgreSQL pool (and a real two-worker server for multiprocess mode);
resources are read from cgroup files laid out as the kernel does (v1 and v2) and from this
machine's own /sys/fs/cgroup.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.db.engine import create_db_engine
from rag_chatbot.observability.metrics import render_latest
from rag_chatbot.observability.pool import pool_capacity, refresh, watch_pool
from rag_chatbot.observability.resources import (
    CpuSampler,
    ResourceCollector,
    cpu_cores,
    cpu_seconds,
    memory_bytes,
    memory_fraction,
)


def _pool() -> tuple[float, float]:
    in_use = REGISTRY.get_sample_value("rag_chatbot_db_pool_in_use")
    size = REGISTRY.get_sample_value("rag_chatbot_db_pool_size")
    assert in_use is not None and size is not None
    return in_use, size


@pytest.mark.integration
def test_pool_gauges_follow_checkouts_on_postgresql(
    new_pg_database: Callable[[], str], tmp_path: Path
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        database_url=new_pg_database(),
        data_dir=tmp_path,
        db_pool_size=2,
        db_max_overflow=3,
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
    )
    engine = create_db_engine(settings)
    try:
        assert watch_pool(engine) and watch_pool(engine)  # idempotent
        assert _pool() == (0, 5)
        held = [engine.connect() for _ in range(4)]  # two pooled, two overflow
        for connection in held:
            connection.execute(text("SELECT 1"))
        assert _pool() == (4, 5)
        held.pop().close()
        assert _pool() == (3, 5)
        broken = held.pop()
        broken.invalidate()
        broken.close()
        assert _pool() == (2, 5)
        for connection in held:
            connection.close()
        assert _pool() == (0, 5)
        engine.dispose()  # a new pool: the listeners follow it
        with engine.connect():
            assert _pool() == (1, 5)
        refresh(engine)
        assert _pool() == (0, 5)
    finally:
        engine.dispose()


def test_pools_without_a_capacity_publish_nothing() -> None:
    engine = create_engine("sqlite://", poolclass=NullPool)
    assert pool_capacity(engine.pool) is None
    assert watch_pool(engine) is False


@pytest.mark.integration
@pytest.mark.slow
def test_two_workers_sum_their_pools(new_pg_database: Callable[[], str], tmp_path: Path) -> None:
    from servers import start_server, stop

    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": new_pg_database(),
        "DB_POOL_SIZE": "3",
        "DB_MAX_OVERFLOW": "2",
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
    }
    process, base = start_server(tmp_path, env, "--workers", "2")
    try:
        text_ = ""
        for _ in range(50):  # both workers publish at start-up; the second may lag
            text_ = httpx.get(f"{base}/api/metrics", timeout=10).text
            if "rag_chatbot_db_pool_size 10.0" in text_:
                break
            httpx.get(f"{base}/api/health", timeout=10)
        samples = _samples(text_)
        assert samples["rag_chatbot_db_pool_size"] == 10  # 2 workers x (3 + 2)
        assert samples["rag_chatbot_db_pool_in_use"] == 0
        assert samples["rag_chatbot_memory_limit_bytes"] > samples["rag_chatbot_memory_usage_bytes"]
    finally:
        stop(process)


def _samples(exposition: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if not sample.labels
    }


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def test_cgroup_v2_limits(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "memory.max": "1073741824\n",
            "memory.current": "600000000\n",
            "memory.stat": "anon 400000000\ninactive_file 100000000\nactive_file 5\n",
            "cpu.stat": "usage_usec 5250000\nuser_usec 4000000\n",
            "cpu.max": "150000 100000\n",
        },
    )
    assert memory_bytes(root) == (500_000_000, 1_073_741_824)
    assert cpu_seconds(root) == 5.25
    assert cpu_cores(root) == 1.5


def test_cgroup_v1_limits(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "memory/memory.limit_in_bytes": "2147483648\n",
            "memory/memory.usage_in_bytes": "1000000000\n",
            "memory/memory.stat": "cache 300\ntotal_inactive_file 200000000\n",
            "cpuacct/cpuacct.usage": "7500000000\n",
            "cpu/cpu.cfs_quota_us": "200000\n",
            "cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    assert memory_bytes(root) == (800_000_000, 2_147_483_648)
    assert cpu_seconds(root) == 7.5
    assert cpu_cores(root) == 2


def test_without_cgroup_limits_the_machine_is_the_limit(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "memory.max": "max\n",
            "memory.current": "123\n",
            "cpu.max": "max 100000\n",
            "memory/memory.limit_in_bytes": "9223372036854771712\n",
            "memory/memory.usage_in_bytes": "5\n",
        },
    )
    used, limit = memory_bytes(root)
    assert limit == psutil.virtual_memory().total
    assert 0 < used < limit
    assert cpu_cores(root) == len(os.sched_getaffinity(0))


def test_this_machine_is_reported_in_the_exposition(tmp_path: Path) -> None:
    body, _ = render_latest([ResourceCollector(tmp_path / "data" / "not-yet-created")])
    samples = _samples(body.decode())
    assert 0 < samples["rag_chatbot_memory_usage_bytes"] < samples["rag_chatbot_memory_limit_bytes"]
    assert samples["rag_chatbot_cpu_usage_seconds_total"] > 0
    assert samples["rag_chatbot_cpu_limit_cores"] >= 1
    assert samples["rag_chatbot_data_volume_free_bytes"] > 0
    assert (
        samples["rag_chatbot_data_volume_free_bytes"]
        < samples["rag_chatbot_data_volume_size_bytes"]
    )
    # Read at each scrape: a second collection sees more CPU time, never less.
    registry = CollectorRegistry()
    registry.register(ResourceCollector(tmp_path))
    first = registry.get_sample_value("rag_chatbot_cpu_usage_seconds_total") or 0
    sum(i * i for i in range(200_000))
    assert (registry.get_sample_value("rag_chatbot_cpu_usage_seconds_total") or 0) >= first


def test_health_fractions_of_the_limits(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "memory.max": "1000000000\n",
            "memory.current": "700000000\n",
            "memory.stat": "inactive_file 50000000\n",
            "cpu.stat": "usage_usec 1000000\n",
            "cpu.max": "100000 100000\n",
        },
    )
    assert memory_fraction(root) == 0.65
    sampler = CpuSampler(root, min_window=0.05)
    assert sampler.fraction() == 0.0  # no CPU time went by during its own window
    (root / "cpu.stat").write_text("usage_usec 1500000\n")  # half a core-second later...
    time.sleep(1.0)  # ...within one second on a one-core quota
    assert 0.3 < sampler.fraction() <= 0.5


def test_the_first_cpu_reading_is_measured_not_zero() -> None:
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(i * i for i in range(1000))

    busy = threading.Thread(target=spin)
    busy.start()
    try:
        first = CpuSampler().fraction()
    finally:
        stop.set()
        busy.join()
    # One busy thread on this machine's cores (or its cgroup quota): well above zero.
    assert 0.1 < first <= 1.0
