"""Password guesses are limited per account, whatever address they come from — on real Redis.

Before: the only login limit was per IP, so fifteen guesses from fifteen addresses were all
checked (fifteen 401s, never a 429).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from security_support import Factory

from rag_chatbot.api.app import create_app
from rag_chatbot.auth.guesses import FREE_FAILURES, MAX_LOCK_SECONDS, turn_seconds

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def _login(app: FastAPI, ip: str, username: str, password: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post("/api/auth/login", json={"username": username, "password": password})


async def test_guesses_from_many_addresses_are_slowed_per_account(
    make_container: Factory, redis_url: str, redis_prefix: str
) -> None:
    container = make_container(
        redis_url=redis_url, redis_key_prefix=redis_prefix, rate_limit_auth="3/minute"
    )
    container.users.create("jane", "jane's password")
    app = create_app(container)
    await _login(app, "203.0.113.200", "someone-else", "warms the store's connections")
    # Sent all at once, as a botnet would: each is counted before its password is checked.
    guesses = await asyncio.gather(
        *(_login(app, f"203.0.113.{n}", "jane", f"guess number {n}") for n in range(15))
    )
    codes = sorted(response.status_code for response in guesses)
    # Each address stays far under its own budget (3); the account is what stops them.
    assert codes == [401] * (FREE_FAILURES + 1) + [429] * (15 - FREE_FAILURES - 1)
    waiting = max(int(r.headers["retry-after"]) for r in guesses if r.status_code == 429)
    assert 1 <= waiting <= turn_seconds(1)

    await asyncio.sleep(waiting + 0.2)
    wrong = await _login(app, "198.51.100.6", "jane", "one more guess")
    assert wrong.status_code == 401  # the second turn, twice as long
    refused = await _login(app, "198.51.100.7", "jane", "jane's password")
    assert refused.status_code == 429  # the right password waits for its turn too
    assert refused.json()["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert turn_seconds(1) < int(refused.headers["retry-after"]) <= turn_seconds(2)

    await asyncio.sleep(turn_seconds(2) + 0.2)
    assert (await _login(app, "198.51.100.7", "jane", "jane's password")).status_code == 200
    # A successful login clears the count: the owner has their free attempts again.
    for n in range(FREE_FAILURES):
        assert (await _login(app, f"198.51.100.{10 + n}", "jane", "typo")).status_code == 401


async def test_each_turn_doubles_and_unknown_names_are_counted_alike(
    make_container: Factory, redis_url: str, redis_prefix: str
) -> None:
    app = create_app(make_container(redis_url=redis_url, redis_key_prefix=redis_prefix))
    for n in range(FREE_FAILURES + 1):
        # A name that does not exist answers exactly as a wrong password would.
        assert (await _login(app, f"192.0.2.{n}", "nobody", "guess!!!")).status_code == 401
    assert (await _login(app, "192.0.2.99", "NoBody", "guess!!!")).status_code == 429
    await asyncio.sleep(turn_seconds(1) + 0.2)
    assert (await _login(app, "192.0.2.98", "nobody", "guess!!!")).status_code == 401
    waiting = await _login(app, "192.0.2.97", "nobody", "guess!!!")
    assert waiting.status_code == 429
    assert turn_seconds(1) < int(waiting.headers["retry-after"]) <= turn_seconds(2)
    # Other accounts are untouched.
    assert (await _login(app, "192.0.2.96", "somebody", "guess!!!")).status_code == 401


def test_turns_double_up_to_the_cap() -> None:
    assert [turn_seconds(n) for n in range(1, 6)] == [2, 4, 8, 16, 32]
    assert turn_seconds(10) == MAX_LOCK_SECONDS == turn_seconds(10_000)
