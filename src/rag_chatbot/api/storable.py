"""Text that PostgreSQL cannot store is refused where it enters the API: 422 ``INVALID_INPUT``.

PostgreSQL's ``text`` refuses NUL, and psycopg cannot encode a lone UTF-16 surrogate, which a
JSON ``"\\ud800"`` decodes to. Either would fail deep inside a route with a 500 — on PostgreSQL
only, SQLite stores both — so both are stopped at the two doors text comes in by:

- ``StorableRequest`` (ASGI, before routing): the percent-decoded path, the percent-decoded
  query string and every header (NUL is never valid in a header, RFC 9110 §5.5). The server
  decodes path and query as UTF-8 with replacement, so no surrogate survives there.
- ``StorableBody``: the base of every JSON request body; each string, in lists, dicts and
  nested bodies too, is checked when the body is validated.

The refusal is an ordinary response, so the keep-alive connection stays usable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError
from starlette.types import ASGIApp, Receive, Scope, Send

from rag_chatbot.api.errors import error_response

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text`` (a NUL character, a lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"


def _first_unstorable(value: object) -> str | None:
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, Mapping):
        items: list[object] = [*value.keys(), *value.values()]
        return next((r for r in map(_first_unstorable, items) if r), None)
    if isinstance(value, list | tuple | set | frozenset):
        return next((r for r in map(_first_unstorable, value) if r), None)
    return None  # numbers, booleans, None; a nested body checks its own fields


class StorableBody(BaseModel):
    """A JSON request body whose strings PostgreSQL can store (else a validation error)."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        reason = _first_unstorable(value)
        if reason is not None:
            raise PydanticCustomError(
                "unstorable_text", "text with {reason} is not accepted", {"reason": reason}
            )
        return value


class StorableRequest:
    """Refuses with 422 a request whose path, query string or headers PostgreSQL cannot store."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _request_problem(scope)
            if problem is not None:
                response = error_response(422, problem, "INVALID_INPUT")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _request_problem(scope: Scope) -> str | None:
    """What is wrong with the path, query string or headers of a request; None if nothing."""
    reason = unstorable(scope["path"])
    if reason is not None:
        return f"path: text with {reason} is not accepted"
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in unquote_to_bytes(query):
        return "query: text with a NUL character is not accepted"
    for name, value in scope.get("headers") or []:
        if b"\x00" in name or b"\x00" in value:
            header = name.replace(b"\x00", b"").decode("latin-1")
            return f"header {header}: a NUL character is not accepted"
    return None
