"""What one scrape of ``/api/metrics`` says about requests: counts, errors, latency buckets.

``parse_scrape`` reads the Prometheus text exposition into per-route figures;
``Scrape.minus(earlier)`` gives what happened between two scrapes (counters and histogram
buckets only go up, so the difference is the window's own traffic); ``histogram_quantile``
estimates a quantile from cumulative buckets the way Prometheus' function of that name does,
by linear interpolation inside the bucket the rank falls in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

_REQUESTS = "http_requests_total"
_DURATION = "http_request_duration_seconds"


@dataclass
class RouteCounts:
    """One route's totals: requests by status class and the duration histogram."""

    requests: float = 0.0
    errors: float = 0.0  # 5xx
    client_errors: float = 0.0  # 4xx
    # Upper bound (seconds, inf last) to the cumulative count of requests at most that long.
    buckets: dict[float, float] = field(default_factory=dict)
    seconds_sum: float = 0.0


@dataclass
class Scrape:
    """Per ``(method, route template)`` counts, cache look-ups and when the process started."""

    routes: dict[tuple[str, str], RouteCounts]
    cache_hits: float
    cache_misses: float
    process_start: float | None  # epoch seconds; absent when several workers serve
    taken_at: float

    def minus(self, earlier: Scrape) -> Scrape:
        """What was counted after ``earlier`` (a route it lacked counts from zero)."""
        routes: dict[tuple[str, str], RouteCounts] = {}
        for key, now in self.routes.items():
            before = earlier.routes.get(key, RouteCounts())
            delta = RouteCounts(
                requests=now.requests - before.requests,
                errors=now.errors - before.errors,
                client_errors=now.client_errors - before.client_errors,
                buckets={le: n - before.buckets.get(le, 0.0) for le, n in now.buckets.items()},
                seconds_sum=now.seconds_sum - before.seconds_sum,
            )
            if delta.requests > 0:
                routes[key] = delta
        return Scrape(
            routes=routes,
            cache_hits=self.cache_hits - earlier.cache_hits,
            cache_misses=self.cache_misses - earlier.cache_misses,
            process_start=self.process_start,
            taken_at=self.taken_at,
        )


def parse_scrape(text: str, taken_at: float | None = None) -> Scrape:
    """The request figures of an exposition (``ValueError`` if it is not one)."""
    routes: dict[tuple[str, str], RouteCounts] = {}
    hits = misses = 0.0
    started: float | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == _REQUESTS:
                counts = routes.setdefault((labels["method"], labels["path"]), RouteCounts())
                counts.requests += sample.value
                if labels["status"].startswith("5"):
                    counts.errors += sample.value
                elif labels["status"].startswith("4"):
                    counts.client_errors += sample.value
            elif sample.name == f"{_DURATION}_bucket":
                counts = routes.setdefault((labels["method"], labels["path"]), RouteCounts())
                counts.buckets[float(labels["le"])] = sample.value
            elif sample.name == f"{_DURATION}_sum":
                counts = routes.setdefault((labels["method"], labels["path"]), RouteCounts())
                counts.seconds_sum = sample.value
            elif sample.name == "rag_chatbot_cache_hits_total":
                hits = sample.value
            elif sample.name == "rag_chatbot_cache_misses_total":
                misses = sample.value
            elif sample.name == "process_start_time_seconds":
                started = sample.value
    return Scrape(routes, hits, misses, started, time.time() if taken_at is None else taken_at)


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The ``q``-quantile of cumulative ``buckets`` (upper bound → count), or None if empty.

    As Prometheus computes it: find the first bucket whose count reaches ``q`` times the total,
    and interpolate linearly between its lower and upper bound (the first bucket's lower bound
    is 0). A rank that falls in the ``+Inf`` bucket gives the highest finite bound: nothing
    more is known about those requests than that they took longer.
    """
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper in bounds:
        count = buckets[upper]
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def merged_buckets(counts: Iterable[RouteCounts]) -> dict[float, float]:
    """One histogram for several routes (they share the bucket bounds)."""
    merged: dict[float, float] = {}
    for route in counts:
        for le, n in route.buckets.items():
            merged[le] = merged.get(le, 0.0) + n
    return merged
