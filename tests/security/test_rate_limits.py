"""Rate limits per IP and per user, per budget, shared by replicas through real Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from security_support import Factory, bearer, browser, fresh_window, login

from rag_chatbot.api.app import create_app
from rag_chatbot.container import Container

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
QUESTION = {"message": "How do I cure my tea?"}


def from_ip(
    container: Container, ip: str, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container), client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers or {})


async def test_chat_budget_per_ip_with_headers_and_retry_after(make_container: Factory) -> None:
    container = make_container(rate_limit_chat="3/minute")
    await fresh_window()  # the requests below must share one window
    async with from_ip(container, "10.0.0.1") as http:
        for n in range(3):
            ok = await http.post("/api/chat", json=QUESTION, headers=browser())
            assert ok.status_code == 200
            assert ok.headers["x-ratelimit-limit"] == "3"
            assert ok.headers["x-ratelimit-remaining"] == str(2 - n)
        # New browser tokens do not help: the IP is counted too.
        refused = await http.post("/api/chat", json=QUESTION, headers=browser())
        assert refused.status_code == 429
        assert refused.json()["error_code"] == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-ratelimit-remaining"] == "0"
        # Other budgets are separate: searching still works.
        search = await http.post("/api/search", json={"query": "tea"})
        assert search.status_code == 200 and search.headers["x-ratelimit-limit"] == "10000"
        # Health and metrics are never limited (probes must not be refused).
        for _ in range(5):
            assert (await http.get("/api/health")).status_code == 200
    async with from_ip(container, "10.0.0.2") as other:
        assert (await other.post("/api/chat", json=QUESTION, headers=browser())).status_code == 200


async def test_a_user_is_limited_across_ips(make_container: Factory) -> None:
    container = make_container(rate_limit_default="2/minute", rate_limit_auth="100/minute")
    container.users.create("ivan", "ivan's password")
    await fresh_window()  # the requests below must share one window
    async with from_ip(container, "10.1.0.1") as first:
        token = bearer((await login(first, "ivan", "ivan's password"))["access_token"])
        for _ in range(2):
            assert (await first.get("/api/auth/me", headers=token)).status_code == 200
    async with from_ip(container, "10.1.0.2") as second:
        refused = await second.get("/api/auth/me", headers=token)
        assert refused.status_code == 429  # a fresh IP, but the same user
        anonymous = await second.post("/api/search", json={"query": "tea"})
        assert anonymous.status_code == 200  # that IP's own budget is untouched


async def test_login_attempts_have_their_own_small_budget(make_container: Factory) -> None:
    container = make_container(rate_limit_auth="3/minute")
    await fresh_window()  # the requests below must share one window
    async with from_ip(container, "10.2.0.1") as http:
        codes = [
            (
                await http.post("/api/auth/login", json={"username": "x1x", "password": "wrong pw"})
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]


async def test_replicas_share_the_limit_through_redis(
    make_container: Factory, redis_url: str, redis_prefix: str
) -> None:
    settings = {
        "redis_url": redis_url,
        "redis_key_prefix": redis_prefix,
        "rate_limit_chat": "4/minute",
    }
    replica_a, replica_b = make_container(**settings), make_container(**settings)
    await fresh_window()  # the requests below must share one window
    async with from_ip(replica_a, "10.3.0.1") as a, from_ip(replica_b, "10.3.0.1") as b:
        codes = []
        for http in (a, b, a, b, a, b):
            codes.append(
                (await http.post("/api/chat", json=QUESTION, headers=browser())).status_code
            )
        assert codes == [200, 200, 200, 200, 429, 429]


async def test_the_limit_recovers_when_its_window_ends(make_container: Factory) -> None:
    container = make_container(rate_limit_chat="2/second")
    async with from_ip(container, "10.4.0.1") as http:
        for _ in range(3):  # each try starts a new one-second window, and may still see it turn
            await fresh_window(seconds=1, room=1.0)
            codes = [
                (await http.post("/api/chat", json=QUESTION, headers=browser())).status_code
                for _ in range(3)
            ]
            if codes == [200, 200, 429]:
                break
        assert codes == [200, 200, 429]
        await asyncio.sleep(1.05)
        assert (await http.post("/api/chat", json=QUESTION, headers=browser())).status_code == 200
