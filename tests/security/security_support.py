"""Helpers of the security tests: clients with identities, log-in."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx
from testing_secrets import TEST_ADMIN_TOKEN

from rag_chatbot.api.app import create_app
from rag_chatbot.container import Container

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
Factory = Callable[..., Container]


def client(container: Container, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container))
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers or {})


def browser() -> dict[str, str]:
    """Headers of a fresh anonymous browser."""
    return {"X-Client-Token": secrets.token_urlsafe(24)}


async def login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, Any]:
    response = await http.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def fresh_window(seconds: int = 60, room: float = 15.0) -> None:
    """Wait for the next rate-limit window if fewer than ``room`` seconds are left in this one.

    The limits count in fixed windows: a test that sends N requests and expects the last one
    refused would see the count start again if the window turned between them.
    """
    import asyncio
    import time

    left = seconds - time.time() % seconds
    if left < room:
        await asyncio.sleep(left + 0.05)
