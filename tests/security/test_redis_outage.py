"""Redis stops and comes back: the service keeps answering, says it is degraded, recovers."""

from __future__ import annotations

import asyncio

import pytest
from security_support import Factory, bearer, browser, client, login

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.slow]
QUESTION = {"message": "How often is the Fresnel lens cleaned?"}


async def test_redis_outage_degrades_and_recovers(make_container: Factory, private_redis) -> None:  # type: ignore[no-untyped-def]
    container = make_container(redis_url=private_redis.url, rate_limit_chat="50/minute")
    container.users.create("judy", "judy's password")
    async with client(container, browser()) as http:
        token = bearer((await login(http, "judy", "judy's password"))["access_token"])
        assert (await http.post("/api/chat", json=QUESTION)).json()["cached"] is False
        assert (await http.post("/api/chat", json=QUESTION)).json()["cached"] is True
        health = await http.get("/api/health/detailed")
        assert health.status_code == 200 and health.json()["services"]["cache"] == "healthy"

        private_redis.stop()

        # Still answering: the cache is bypassed, rate limits count in process.
        for _ in range(3):
            answered = await http.post("/api/chat", json=QUESTION)
            assert answered.status_code == 200, answered.text
            assert answered.json()["cached"] is False and answered.json()["grounded"] is True
            assert answered.headers["x-ratelimit-limit"] == "50"
        health = await http.get("/api/health/detailed")
        assert health.status_code == 200  # questions can still be answered
        assert health.json()["services"]["cache"] == "degraded"
        # Whether a token was logged out cannot be checked: it waits for Redis (fails closed),
        # and so does logging in.
        unchecked = await http.get("/api/auth/me", headers=token)
        assert (
            unchecked.status_code == 503 and unchecked.json()["error_code"] == "SERVICE_UNAVAILABLE"
        )
        refused = await http.post(
            "/api/auth/login", json={"username": "judy", "password": "judy's password"}
        )
        assert refused.status_code == 503 and refused.json()["error_code"] == "SERVICE_UNAVAILABLE"

        private_redis.start()  # same port, empty (it keeps nothing on disk)

        async def recovered() -> bool:
            detailed = await http.get("/api/health/detailed")
            return bool(detailed.json()["services"]["cache"] == "healthy")

        for _ in range(50):
            if await recovered():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the cache did not recover after Redis came back")
        await asyncio.sleep(1.1)  # past the breaker's retry interval
        assert (await http.post("/api/chat", json=QUESTION)).json()["cached"] is False
        assert (await http.post("/api/chat", json=QUESTION)).json()["cached"] is True
        assert (await login(http, "judy", "judy's password"))["access_token"]
