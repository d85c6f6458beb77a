"""Clients of an API app for the analytics tests: the operator, readers, accounts."""

from __future__ import annotations

import secrets

import httpx
from testing_secrets import TEST_ADMIN_TOKEN

from rag_chatbot.api.app import create_app
from rag_chatbot.container import Container


class Clients:
    """Clients of one app: ``admin()``, ``reader()`` (a fresh browser), ``account(name)``."""

    def __init__(self, container: Container) -> None:
        self._transport = httpx.ASGITransport(app=create_app(container))
        self._open: list[httpx.AsyncClient] = []

    def _client(self, headers: dict[str, str]) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=self._transport, base_url="http://test", headers=headers, timeout=120
        )
        self._open.append(client)
        return client

    def admin(self) -> httpx.AsyncClient:
        return self._client({"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"})

    def reader(self) -> httpx.AsyncClient:
        return self._client({"X-Client-Token": secrets.token_urlsafe(24)})

    def anonymous(self) -> httpx.AsyncClient:
        return self._client({})

    async def account(
        self, username: str, password: str = "a long enough password"
    ) -> httpx.AsyncClient:
        """A registered reader, logged in."""
        client = self._client({})
        created = await client.post(
            "/api/auth/register", json={"username": username, "password": password}
        )
        assert created.status_code == 201, created.text
        tokens = await client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert tokens.status_code == 200, tokens.text
        client.headers["Authorization"] = f"Bearer {tokens.json()['access_token']}"
        return client

    async def close(self) -> None:
        for client in self._open:
            await client.aclose()


async def ask(client: httpx.AsyncClient, question: str) -> dict[str, object]:
    """Ask as the reader ``client`` is; the answer's JSON."""
    reply = await client.post("/api/chat", json={"message": question})
    assert reply.status_code == 200, reply.text
    answer: dict[str, object] = reply.json()
    return answer
