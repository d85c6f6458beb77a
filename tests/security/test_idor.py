"""Nobody reads, lists, deletes, continues or rates another caller's sessions or messages."""

from __future__ import annotations

import httpx
import pytest
from security_support import ADMIN, Factory, bearer, browser, client, login

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def _chat(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    response = await http.post(
        "/api/chat", json={"message": "How often is the Fresnel lens cleaned?"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_no_route_lets_one_caller_touch_anothers_session(make_container: Factory) -> None:
    container = make_container()
    container.users.create("owner1", "owner's password")
    container.users.create("other1", "other's password")
    async with client(container) as http:
        owner_user = bearer((await login(http, "owner1", "owner's password"))["access_token"])
        other_user = bearer((await login(http, "other1", "other's password"))["access_token"])
        owner_browser, other_browser = browser(), browser()

        # Each kind of owner against each kind of intruder, including the operator's token:
        # admin rights cover documents and the cache, not readers' conversations.
        pairs = [
            (owner_user, other_user),
            (owner_user, other_browser),
            (owner_browser, other_browser),
            (owner_browser, other_user),
            (owner_user, ADMIN),
        ]
        for owner, intruder in pairs:
            mine = await _chat(http, owner)
            sid, mid = mine["session_id"], mine["message_id"]
            attempts = [
                ("GET", f"/api/sessions/{sid}", None),
                ("GET", f"/api/sessions/{sid}/messages", None),
                ("DELETE", f"/api/sessions/{sid}", None),
                ("POST", f"/api/messages/{mid}/feedback", {"rating": -1}),
                ("POST", "/api/chat", {"message": "And the lamp?", "session_id": sid}),
            ]
            for method, path, body in attempts:
                response = await http.request(method, path, json=body, headers=intruder)
                # Exactly as if it did not exist: ids cannot be probed.
                assert response.status_code == 404, (method, path, response.text)
                assert response.json()["error_code"] in ("SESSION_NOT_FOUND", "NOT_FOUND")
            listed = await http.get("/api/sessions", headers=intruder)
            assert sid not in [s["id"] for s in listed.json()]

            # Nothing was changed by the attempts: the owner still sees it all, unrated.
            messages = await http.get(f"/api/sessions/{sid}/messages", headers=owner)
            assert [m["role"] for m in messages.json()] == ["user", "assistant"]
            assert container.chats.get_feedback(mid) is None
            assert sid in [s["id"] for s in (await http.get("/api/sessions", headers=owner)).json()]
            rated = await http.post(
                f"/api/messages/{mid}/feedback", json={"rating": 1}, headers=owner
            )
            assert rated.status_code == 200


async def test_listing_needs_an_identity(make_container: Factory) -> None:
    async with client(make_container()) as http:
        response = await http.get("/api/sessions")
        assert response.status_code == 401 and response.json()["error_code"] == "UNAUTHORIZED"
        bad = await http.get("/api/sessions", headers={"X-Client-Token": "short"})
        assert bad.status_code == 422


async def test_a_users_sessions_follow_them_across_logins(make_container: Factory) -> None:
    container = make_container()
    container.users.create("hana", "hana's password")
    async with client(container) as http:
        first = bearer((await login(http, "hana", "hana's password"))["access_token"])
        sid = (await _chat(http, first))["session_id"]
        second = bearer((await login(http, "hana", "hana's password"))["access_token"])
        listed = await http.get("/api/sessions", headers=second)
        assert [s["id"] for s in listed.json()] == [sid]
        follow_up = await http.post(
            "/api/chat", json={"message": "And the lamp?", "session_id": sid}, headers=second
        )
        assert follow_up.status_code == 200
