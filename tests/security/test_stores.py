"""The key-value store contract, on the in-process store and on real Redis; the rate limiter."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from rag_chatbot.config import parse_rate
from rag_chatbot.keyvalue import KeyValueStore, MemoryStore, RedisStore, StoreUnavailable
from rag_chatbot.keyvalue.redis_store import SOCKET_TIMEOUT
from rag_chatbot.ratelimit import Limit, RateLimiter, scope_of


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[KeyValueStore]:
    if request.param == "memory":
        yield MemoryStore("p:")
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    made = RedisStore(url, prefix)
    yield made
    made.close()


def test_get_set_expire_delete(store: KeyValueStore) -> None:
    assert store.get("a") is None
    store.set("a", b"1")
    store.set("b", b"2", ttl=0.2)
    assert store.get("a") == b"1" and store.exists("b")
    time.sleep(0.35)
    assert store.get("b") is None and not store.exists("b")
    assert store.delete("a", "missing") == 1
    assert store.get("a") is None


def test_add_sets_only_an_absent_key_until_it_expires(store: KeyValueStore) -> None:
    assert store.add("turn", b"first", ttl=0.3) is True
    assert store.add("turn", b"second", ttl=0.3) is False
    assert store.get("turn") == b"first"
    time.sleep(0.45)
    assert store.add("turn", b"third", ttl=0.3) is True and store.get("turn") == b"third"


@pytest.mark.anyio
async def test_counters_keep_their_first_expiry(store: KeyValueStore) -> None:
    assert store.incr("n", ttl=1) == 1
    assert store.incr("n", 5, ttl=100) == 6
    assert await store.aincr_many(["n", "m"], ttl=1) == [7, 1]
    time.sleep(1.3)
    assert store.get("n") is None  # the later, longer ttl did not extend it


def test_get_counted_counts_hits_and_misses(store: KeyValueStore) -> None:
    store.set("answer", b"42")
    assert store.get_counted("answer", "hits", "misses") == b"42"
    assert store.get_counted("nothing", "hits", "misses") is None
    assert store.get_counted("answer", "hits", "misses") == b"42"
    assert (store.get("hits"), store.get("misses")) == (b"2", b"1")


def test_patterns_stay_inside_the_prefix(store: KeyValueStore) -> None:
    for n in range(3):
        store.set(f"cache:answer:{n}", b"x" * 100)
    store.set("session:1", b"s")
    assert sorted(store.keys("cache:answer:*")) == [f"cache:answer:{n}" for n in range(3)]
    assert store.memory_bytes("cache:answer:*") >= 300
    assert store.delete_matching("cache:answer:*") == 3
    assert list(store.keys("cache:answer:*")) == [] and store.exists("session:1")


def test_redis_down_fails_fast_then_retries(redis_url: str) -> None:
    dead = RedisStore("redis://127.0.0.1:1/0", retry_seconds=0.3)  # nothing listens on port 1
    with pytest.raises(StoreUnavailable):
        dead.get("x")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="retrying shortly"):
        dead.get("x")  # the breaker is open: no connection attempt at all
    assert time.monotonic() - started < 0.05
    assert dead.ping() is False
    assert redis.Redis.from_url(redis_url).ping()


def test_a_redis_that_never_answers_opens_the_breaker_after_the_socket_timeout() -> None:
    # A listening socket nobody reads from: connections succeed, replies never come.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        port = hung.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0", retry_seconds=30)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get("x")
        waited = time.monotonic() - started
        with pytest.raises(StoreUnavailable, match="retrying shortly"):
            store.get("x")  # no second wait: the breaker is open
        assert time.monotonic() - started - waited < 0.05
    # Long enough that a busy process is not taken for a hung Redis, short enough to fail.
    assert SOCKET_TIMEOUT <= waited < SOCKET_TIMEOUT + 2


def test_parse_rate() -> None:
    assert parse_rate("30/minute") == (30, 60)
    assert parse_rate("5 / Seconds") == (5, 1)
    assert parse_rate("1000/day") == (1000, 86400)
    for bad in ("", "30", "0/minute", "-1/hour", "ten/minute", "3/fortnight"):
        with pytest.raises(ValueError, match="N/second"):
            parse_rate(bad)


@pytest.mark.anyio
async def test_rate_limiter_windows_per_identity() -> None:
    limiter = RateLimiter(MemoryStore(), {"chat": Limit(2, 60)})
    t = 6000.0  # the start of a window
    assert (await limiter.check("chat", ["ip:a"], now=t)).remaining == 1
    assert (await limiter.check("chat", ["ip:a", "user:u"], now=t + 1)).allowed
    last = await limiter.check("chat", ["ip:b", "user:u"], now=t + 2)
    assert last.allowed and last.remaining == 0
    refused = await limiter.check(
        "chat", ["ip:c", "user:u"], now=t + 2
    )  # a new IP; the user is over
    assert not refused.allowed and refused.reset_after == 58
    assert dict(refused.headers())[b"retry-after"] == b"58"
    assert (await limiter.check("chat", ["ip:a"], now=t + 60)).allowed  # a new window


def test_budget_of_each_route() -> None:
    assert scope_of("POST", "/api/chat") == "chat"
    assert scope_of("POST", "/v1/chat/completions") == "chat"
    assert scope_of("POST", "/api/documents") == "upload"
    assert scope_of("POST", "/api/auth/login") == "auth"
    assert scope_of("GET", "/api/documents") == "default"
    assert scope_of("GET", "/api/health/detailed") is None
    assert scope_of("GET", "/api/metrics") is None
    assert scope_of("OPTIONS", "/api/chat") is None
    assert scope_of("GET", "/static/app.js") is None
