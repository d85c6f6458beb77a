"""``rag-chatbot users`` and ``rag-chatbot cache``: accounts and the response cache.

Neither loads the embedding model or opens the vector index: they work beside a running
``serve``, against the same DATABASE_URL / REDIS_URL.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from rag_chatbot.auth.accounts import CACHE_SECONDS, AccountStates
from rag_chatbot.auth.users import UserRepository
from rag_chatbot.cache import ResponseCache
from rag_chatbot.cli.failures import fail, reported
from rag_chatbot.config import Settings, load_settings
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.migrate import upgrade_to_head
from rag_chatbot.keyvalue import StoreUnavailable, build_store

users_app = typer.Typer(help="Accounts: readers and admins.", no_args_is_help=True)
cache_app = typer.Typer(help="The response cache (Redis or in process).", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def _settings() -> Settings:
    with reported(2):
        return load_settings()


@contextmanager
def _users() -> Iterator[UserRepository]:
    engine = create_db_engine(_settings())
    try:
        upgrade_to_head(engine)
        yield UserRepository(session_factory(engine))
    finally:
        engine.dispose()


@users_app.command("create")
def create_user(
    username: str = typer.Argument(..., help="3-64 characters: letters, digits, _ . @ -"),
    password: str | None = typer.Option(
        None, help="The password (visible in shell history: prefer --password-stdin)."
    ),
    password_stdin: bool = typer.Option(False, help="Read the password from standard input."),
    admin: bool = typer.Option(False, "--admin", help="Give the account the admin role."),
) -> None:
    """Create an account (a reader, or an admin with --admin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with reported(1), _users() as users:
        row = users.create(username, password, "admin" if admin else "reader")
    _out.print(f"created {row.role} {row.username} ({row.id})", markup=False)


@users_app.command("set-role")
def set_role(
    username: str,
    role: str = typer.Argument(..., help="reader or admin"),
) -> None:
    """Change an account's role."""
    if role not in ("reader", "admin"):
        raise fail("role must be reader or admin", 2)
    with reported(1), _users() as users:
        row = users.set_role(username, "admin" if role == "admin" else "reader")
        _publish(users, row.id)
    _out.print(f"{row.username} is now {row.role}; their earlier logins are ended", markup=False)


@users_app.command("set-password")
def set_password(
    username: str,
    password_stdin: bool = typer.Option(False, help="Read the password from standard input."),
) -> None:
    """Set a new password; every login made with the old one ends at once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else ""
    if not password:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with reported(1), _users() as users:
        row = users.set_password(username, password)
        _publish(users, row.id)
    _out.print(f"new password set for {row.username}; their earlier logins are ended", markup=False)


@users_app.command("delete")
def delete_user(username: str) -> None:
    """Delete an account; its tokens stop working at once."""
    with reported(1), _users() as users:
        _publish(users, users.delete(username))
    _out.print(f"deleted {username.strip().lower()}", markup=False)


def _publish(users: UserRepository, user_id: str) -> None:
    """Tell every server of the change now (see ``auth/accounts.py``)."""
    settings = _settings()
    late = f"servers that use Redis see this change within {CACHE_SECONDS} s"
    if not settings.redis_url:
        _err.print(
            f"note: REDIS_URL is not set, so {late}; run this with the servers' REDIS_URL and "
            "REDIS_KEY_PREFIX (e.g. inside their container) for it to take effect at once",
            markup=False,
        )
        return
    store = build_store(settings.redis_url, settings.redis_key_prefix)
    try:
        AccountStates(users, store).publish(user_id)
    except StoreUnavailable:
        _err.print(f"warning: Redis is unreachable; {late} of it answering", markup=False)


def _cache() -> ResponseCache:
    settings = _settings()
    store = build_store(settings.redis_url, settings.redis_key_prefix)
    if store.backend == "memory":
        _err.print(
            "note: REDIS_URL is not set, so each serving process keeps its own in-process cache; "
            "this command cannot reach it (use POST /api/admin/cache/clear).",
            markup=False,
        )
    return ResponseCache(store, lambda: "", ttl=settings.cache_ttl)


@cache_app.command("stats")
def cache_stats(as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Hits, misses, hit rate, keys and memory of the shared cache."""
    try:
        stats = _cache().stats()
    except StoreUnavailable as exc:
        raise fail(f"the cache store is unreachable: {exc}") from exc
    if as_json:
        print(json.dumps(stats))
        return
    for key, value in stats.items():
        _out.print(f"{key:>13}: {value}", markup=False)


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every cached answer."""
    try:
        removed = _cache().clear()
    except StoreUnavailable as exc:
        raise fail(f"the cache store is unreachable: {exc}") from exc
    _out.print(f"cleared {removed} cached answers", markup=False)
