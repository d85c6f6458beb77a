"""Accounts and login sessions: register, login, refresh, logout, expiry, roles — on real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import redis
from security_support import ADMIN, Factory, bearer, browser, client, login
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings, load_settings
from rag_chatbot.errors import ConfigError

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_register_login_me_refresh_logout(
    make_container: Factory, redis_url: str, redis_prefix: str
) -> None:
    container = make_container(redis_url=redis_url, redis_key_prefix=redis_prefix)
    async with client(container) as http:
        created = await http.post(
            "/api/auth/register", json={"username": "Reader1", "password": "long enough pw"}
        )
        assert created.status_code == 201, created.text
        assert created.json()["username"] == "reader1" and created.json()["role"] == "reader"
        # A taken name is answered as a free one is (no enumeration), and nothing changes.
        again = await http.post(
            "/api/auth/register", json={"username": "reader1", "password": "another pw!"}
        )
        assert again.status_code == 201 and set(again.json()) == set(created.json())
        assert again.json()["id"] != created.json()["id"]
        refused = await http.post(
            "/api/auth/login", json={"username": "reader1", "password": "another pw!"}
        )
        assert refused.status_code == 401

        tokens = await login(http, "READER1", "long enough pw")
        assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 1800
        me = await http.get("/api/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200 and me.json()["username"] == "reader1"

        # The login session lives in Redis under session:* (with the deployment's prefix).
        keys = redis.Redis.from_url(redis_url).keys(f"{redis_prefix}session:*")
        assert len(keys) == 1

        renewed = await http.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert renewed.status_code == 200
        fresh = renewed.json()
        assert (await http.get("/api/auth/me", headers=bearer(fresh["access_token"]))).is_success

        out = await http.post("/api/auth/logout", headers=bearer(fresh["access_token"]))
        assert out.status_code == 204
        for token in (fresh["access_token"], tokens["access_token"]):
            revoked = await http.get("/api/auth/me", headers=bearer(token))
            assert revoked.status_code == 401
            assert revoked.json()["error_code"] == "UNAUTHORIZED"
            assert revoked.headers["www-authenticate"] == "Bearer"
        dead = await http.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
        assert dead.status_code == 401


async def test_a_reused_refresh_token_revokes_the_login(make_container: Factory) -> None:
    container = make_container()
    container.users.create("carol", "carol's password")
    async with client(container) as http:
        tokens = await login(http, "carol", "carol's password")
        first = await http.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert first.status_code == 200
        stolen = await http.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert stolen.status_code == 401 and "already used" in stolen.json()["detail"]
        # The thief's replay ended the whole login: the legitimate new tokens die too.
        new_access = first.json()["access_token"]
        assert (await http.get("/api/auth/me", headers=bearer(new_access))).status_code == 401


async def test_clearing_sessions_in_redis_logs_everyone_out(
    make_container: Factory, redis_url: str, redis_prefix: str
) -> None:
    container = make_container(redis_url=redis_url, redis_key_prefix=redis_prefix)
    container.users.create("dave", "dave's password")
    container.users.create("erin", "erin's password")
    async with client(container) as http:
        tokens = [await login(http, name, f"{name}'s password") for name in ("dave", "erin")]
        r = redis.Redis.from_url(redis_url)
        r.delete(*r.keys(f"{redis_prefix}session:*"))
        for pair in tokens:
            assert (
                await http.get("/api/auth/me", headers=bearer(pair["access_token"]))
            ).status_code == 401


async def test_expired_forged_and_malformed_tokens_are_401(make_container: Factory) -> None:
    container = make_container()
    user = container.users.create("frank", "frank's password")
    async with client(container) as http:
        tokens = await login(http, "frank", "frank's password")
        sid = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
        now = int(time.time())
        claims = {
            "sub": user.id,
            "role": "admin",
            "sid": sid,
            "typ": "access",
            "iss": "rag-chatbot",
        }
        expired = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, TEST_JWT_SECRET)
        forged = jwt.encode({**claims, "iat": now, "exp": now + 600}, "x" * 40)
        refresh_as_access = tokens["refresh_token"]
        for token, reason in [
            (expired, "token expired"),
            (forged, "invalid token"),
            (refresh_as_access, "not an access token"),
            ("not-a-jwt", "invalid token"),
        ]:
            response = await http.get("/api/auth/me", headers=bearer(token))
            assert response.status_code == 401, token
            assert response.json()["detail"] == reason
        scheme = await http.get("/api/auth/me", headers={"Authorization": "Basic abc"})
        assert scheme.status_code == 401
        wrong = await http.post(
            "/api/auth/login", json={"username": "frank", "password": "nope nope"}
        )
        unknown = await http.post("/api/auth/login", json={"username": "ghost", "password": "nope"})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["detail"] == unknown.json()["detail"]  # no hint which names exist


async def test_roles_admin_routes_need_admin(make_container: Factory) -> None:
    container = make_container()
    container.users.create("reader2", "reader's password")
    container.users.create("boss", "boss's password", "admin")
    async with client(container) as http:
        reader = bearer((await login(http, "reader2", "reader's password"))["access_token"])
        boss = bearer((await login(http, "boss", "boss's password"))["access_token"])
        files = {"file": ("note.md", b"# Note\n\nThe harbour opens at dawn.\n")}
        admin_calls = [
            ("POST", "/api/documents/reindex", {}),
            ("DELETE", "/api/documents/no-such-id", {}),
            ("GET", "/api/admin/cache/stats", {}),
            ("POST", "/api/admin/cache/clear", {}),
            ("POST", "/api/admin/cache/warm", {"json": {"questions": []}}),
        ]
        for method, path, extra in admin_calls:
            anon = await http.request(method, path, headers=browser(), **extra)
            assert anon.status_code == 401, (path, anon.text)
            assert anon.json()["error_code"] == "UNAUTHORIZED"
            as_reader = await http.request(method, path, headers=reader, **extra)
            assert as_reader.status_code == 403, (path, as_reader.text)
            assert as_reader.json()["error_code"] == "FORBIDDEN"
            for headers in (boss, ADMIN):
                allowed = await http.request(method, path, headers=headers, **extra)
                assert allowed.status_code in (200, 202, 404), (path, allowed.text)
        assert (await http.post("/api/documents", files=files, headers=reader)).status_code == 403
        assert (await http.post("/api/documents", files=files)).status_code == 401
        uploaded = await http.post("/api/documents", files=files, headers=boss)
        assert uploaded.status_code == 202
        me = await http.get("/api/auth/me", headers=ADMIN)
        assert me.json()["role"] == "admin"


async def test_anonymous_chat_is_a_setting(make_container: Factory) -> None:
    open_book = make_container()
    async with client(open_book) as http:
        response = await http.post("/api/chat", json={"message": "How do I cure my tea?"})
        assert response.status_code == 200
        token = response.headers["x-client-token"]  # minted: the browser keeps it
        listed = await http.get("/api/sessions", headers={"X-Client-Token": token})
        assert [s["id"] for s in listed.json()] == [response.json()["session_id"]]
    closed = make_container(allow_anonymous_chat=False)
    closed.users.create("gina", "gina's password")
    async with client(closed) as http:
        refused = await http.post(
            "/api/chat", json={"message": "How do I store tea?"}, headers=browser()
        )
        assert refused.status_code == 401
        tokens = await login(http, "gina", "gina's password")
        allowed = await http.post(
            "/api/chat",
            json={"message": "How do I store tea?"},
            headers=bearer(tokens["access_token"]),
        )
        assert allowed.status_code == 200


async def test_registration_can_be_closed(make_container: Factory) -> None:
    async with client(make_container(allow_registration=False)) as http:
        response = await http.post(
            "/api/auth/register", json={"username": "x1x", "password": "12345678"}
        )
        assert response.status_code == 403


@pytest.mark.parametrize("secret", [None, "", "changeme", "short-secret", "please-change-me-" * 3])
def test_weak_jwt_secret_refuses_to_start_outside_development(secret: str | None) -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY") as caught:
        load_settings(environment="production", jwt_secret_key=secret)
    if secret:
        assert secret not in str(caught.value)  # the message never repeats a secret


def test_development_without_a_secret_keeps_one_in_the_data_dir(tmp_path: Path) -> None:
    from rag_chatbot.auth.service import jwt_secret

    settings = Settings(data_dir=tmp_path, environment="development")  # type: ignore[call-arg]
    first, second = jwt_secret(settings), jwt_secret(settings)
    assert first == second and len(first) >= 32
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600
    assert load_settings(environment="production", jwt_secret_key="k" * 32 + "-random")


async def test_cli_creates_an_admin_who_can_log_in(make_container: Factory, tmp_path: Path) -> None:
    container = make_container()
    env = {
        **os.environ,
        "DATA_DIR": str(container.settings.data_dir),
        "DATABASE_URL": container.settings.resolved_database_url,  # the app's own database
    }
    command = [sys.executable, "-m", "rag_chatbot", "users", "create"]
    made = subprocess.run(
        [*command, "Root", "--admin", "--password-stdin"],
        input="root's long password\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert "created admin root" in made.stdout
    taken = subprocess.run(
        [*command, "root", "--password", "whatever123"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert taken.returncode == 1 and "taken" in taken.stderr
    weak = subprocess.run(
        [*command, "shorty", "--password", "short"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert weak.returncode == 1 and "8-256 characters" in weak.stderr
    async with client(container) as http:
        tokens = await login(http, "root", "root's long password")
        me = await http.get("/api/auth/me", headers=bearer(tokens["access_token"]))
        assert me.json()["role"] == "admin"
        stats = await http.get("/api/admin/cache/stats", headers=bearer(tokens["access_token"]))
        assert stats.status_code == 200
