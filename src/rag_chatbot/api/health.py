"""Health probes: each backend really asked, each with a short timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from rag_chatbot.container import Container
from rag_chatbot.db.engine import ping
from rag_chatbot.dependencies import HealthProbes
from rag_chatbot.observability.resources import CpuSampler, memory_fraction

PROBE_TIMEOUT_SECONDS = 2.0
# Without these the service cannot answer a question at all.
ESSENTIAL = ("database", "vector_db", "ai_service")
_CPU = CpuSampler()


def backend_probes(container: Container) -> dict[str, Callable[[], str]]:
    """One probe a backend, each asking it for real; made at start-up, run by ``check``."""

    def database() -> str:
        ping(container.engine)
        return "healthy"

    def vector_db() -> str:
        container.store.count()
        return "healthy"

    def ai_service() -> str:
        # The embedder answers every question; a failing LLM only degrades answers (fallback).
        container.embedder.embed_queries(["health check"])
        return container.generator_status()

    def cache() -> str:
        return container.cache_status()

    return {"database": database, "vector_db": vector_db, "ai_service": ai_service, "cache": cache}


def check(probes: HealthProbes, pool: ThreadPoolExecutor) -> dict[str, object]:
    """Run every probe concurrently; a probe that fails or times out is ``unhealthy``."""
    started = time.perf_counter()
    futures = {name: pool.submit(probe) for name, probe in probes.items()}
    services: dict[str, str] = {}
    for name, future in futures.items():
        try:
            services[name] = future.result(timeout=PROBE_TIMEOUT_SECONDS)
        except (FutureTimeout, Exception):  # any failure of a probe means unhealthy
            services[name] = "unhealthy"
    if any(services[name] == "unhealthy" for name in ESSENTIAL):
        status = "unhealthy"
    elif any(state != "healthy" for state in services.values()):
        status = "degraded"
    else:
        status = "healthy"
    # Seconds and fractions of the container's limits (of the host without a cgroup limit),
    # the units the operator's runbook reads: 0.123 s, 0.65 of the memory, 0.45 of the CPU.
    return {
        "status": status,
        "services": services,
        "metrics": {
            "response_time": round(time.perf_counter() - started, 4),
            "memory_usage": round(memory_fraction(), 4),
            "cpu_usage": round(_CPU.fraction(), 4),
        },
    }
