"""Memory, CPU and disk of the container (or machine) the service runs in, read at scrape time.

The alert rules need "memory > 95 %", "CPU > 80 %" and "disk > 95 %" from the service's own
``/api/metrics``, with no node exporter required. ``process_*`` metrics cannot serve: they
describe one process (and are absent in multiprocess mode), while a limit applies to the whole
container — every worker and the parent together. So ``ResourceCollector`` reads:

- memory: the cgroup's working set (usage minus inactive page cache, as the kubelet counts
  it) and its limit; without a cgroup limit, the machine's used and total memory;
- CPU: the cgroup's CPU time (a counter) and its quota in cores; without a quota, the cores
  this process may run on;
- disk: size and free bytes of the filesystem holding ``DATA_DIR``.

Metric families (ratios are left to PromQL, e.g. ``usage / limit``):
``rag_chatbot_memory_usage_bytes``, ``rag_chatbot_memory_limit_bytes``,
``rag_chatbot_cpu_usage_seconds_total``, ``rag_chatbot_cpu_limit_cores``,
``rag_chatbot_data_volume_size_bytes``, ``rag_chatbot_data_volume_free_bytes``.
A value that cannot be read is left out, never reported as zero.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 reports "no limit" as a huge page-aligned number, not as "max".
_UNLIMITED = 1 << 60


class ResourceCollector(Collector):
    """Reports container (or host) memory and CPU, and the disk holding ``data_dir``."""

    def __init__(self, data_dir: Path, cgroup_root: Path = CGROUP_ROOT) -> None:
        self._data_dir = data_dir
        self._cgroup = cgroup_root

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        used, limit = memory_bytes(self._cgroup)
        yield _gauge("rag_chatbot_memory_usage_bytes", "Memory in use (working set).", used)
        yield _gauge("rag_chatbot_memory_limit_bytes", "Memory the service may use.", limit)
        cpu = CounterMetricFamily(
            "rag_chatbot_cpu_usage_seconds",
            "CPU time used by the container (or the machine without a cgroup).",
            value=cpu_seconds(self._cgroup),
        )
        yield cpu
        yield _gauge(
            "rag_chatbot_cpu_limit_cores", "CPU cores the service may use.", cpu_cores(self._cgroup)
        )
        size, free = disk_bytes(self._data_dir)
        if size is not None:
            yield _gauge(
                "rag_chatbot_data_volume_size_bytes", "Size of the filesystem of DATA_DIR.", size
            )
            yield _gauge(
                "rag_chatbot_data_volume_free_bytes",
                "Bytes free on the filesystem of DATA_DIR (for unprivileged writers).",
                free,
            )


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    if value is not None:
        family.add_metric([], value)
    return family


def memory_bytes(cgroup: Path = CGROUP_ROOT) -> tuple[float, float]:
    """The working set and the limit, in bytes: the cgroup's if it has a limit, else the host's."""
    v2 = _read_int(cgroup / "memory.max"), _read_int(cgroup / "memory.current")
    if v2[0] is not None and v2[1] is not None:
        stat = _read_stat(cgroup / "memory.stat")
        return float(v2[1] - stat.get("inactive_file", 0)), float(v2[0])
    v1 = cgroup / "memory"
    limit, usage = _read_int(v1 / "memory.limit_in_bytes"), _read_int(v1 / "memory.usage_in_bytes")
    if limit is not None and usage is not None and limit < _UNLIMITED:
        stat = _read_stat(v1 / "memory.stat")
        return float(usage - stat.get("total_inactive_file", 0)), float(limit)
    host = psutil.virtual_memory()
    return float(host.total - host.available), float(host.total)


def cpu_seconds(cgroup: Path = CGROUP_ROOT) -> float:
    """CPU time used by the cgroup (v2 ``usage_usec``, v1 ``cpuacct.usage``), else the host's."""
    usec = _read_stat(cgroup / "cpu.stat").get("usage_usec")
    if usec is not None:
        return usec / 1e6
    nanoseconds = _read_int(cgroup / "cpuacct" / "cpuacct.usage")
    if nanoseconds is not None:
        return nanoseconds / 1e9
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def cpu_cores(cgroup: Path = CGROUP_ROOT) -> float:
    """The CPU quota in cores (``cpu.max`` or CFS quota/period), else the usable cores."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    v1_quota = _read_int(cgroup / "cpu" / "cpu.cfs_quota_us")
    v1_period = _read_int(cgroup / "cpu" / "cpu.cfs_period_us")
    if v1_quota is not None and v1_period and v1_quota > 0:
        return v1_quota / v1_period
    return float(len(os.sched_getaffinity(0)))


def disk_bytes(path: Path) -> tuple[float | None, float | None]:
    """Size and free bytes of the filesystem holding ``path`` (its nearest existing parent)."""
    target = path.resolve()
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        usage = shutil.disk_usage(target)
    except OSError:
        return None, None
    return float(usage.total), float(usage.free)


def memory_fraction(cgroup: Path = CGROUP_ROOT) -> float:
    """The working set as a fraction (0-1) of the container's limit, or of the host's memory."""
    used, limit = memory_bytes(cgroup)
    return min(max(used / limit, 0.0), 1.0) if limit > 0 else 0.0


class CpuSampler:
    """CPU use as a fraction (0-1) of the cores the service may use, between two readings.

    A fraction needs two readings of the CPU-time counter. Each call compares with the reading
    of the previous call (so a readiness probe every 10 s reports the last 10 s); the first
    call, or one after a long pause, takes its own two readings ``min_window`` seconds apart,
    so it never reports 0 for want of a baseline.
    """

    def __init__(
        self, cgroup: Path = CGROUP_ROOT, min_window: float = 0.2, max_age: float = 60.0
    ) -> None:
        self._cgroup, self._min_window, self._max_age = cgroup, min_window, max_age
        self._last: tuple[float, float] | None = None
        self._lock = threading.Lock()

    def fraction(self) -> float:
        now, used = time.monotonic(), cpu_seconds(self._cgroup)
        with self._lock:
            last = self._last
        if last is None or now - last[0] > self._max_age or now - last[0] < self._min_window:
            last = (now, used)
            time.sleep(self._min_window)
            now, used = time.monotonic(), cpu_seconds(self._cgroup)
        with self._lock:
            self._last = (now, used)
        elapsed, cores = now - last[0], cpu_cores(self._cgroup)
        return min(max((used - last[1]) / (elapsed * cores), 0.0), 1.0) if cores > 0 else 0.0


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _read_stat(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    stat: dict[str, int] = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            stat[key] = int(value)
    return stat
