"""Who is calling: the ``Principal`` of a request, and the dependencies routes declare.

- ``Authorization: Bearer <access JWT>``: a user (reader or admin).
- ``Authorization: Bearer <ADMIN_TOKEN>``: the operator, with the admin role.
- Otherwise anonymous. A browser names itself with ``X-Client-Token`` (random, kept in its
  local storage), and the chat sessions it starts belong to that token; without one, a chat
  gets a fresh token back in the ``X-Client-Token`` response header.

The dependencies are ``async``: identifying a caller is a signature check and at most one
Redis look-up, cheaper than a trip through the thread pool. Routes declare what they need:
``PrincipalDep`` (anyone, identified), ``ChatCallerDep`` (anyone when
``ALLOW_ANONYMOUS_CHAT``, else a user), ``OwnerDep`` (someone whose sessions can be listed),
``UserDep`` (a logged-in user) or ``AdminDep`` (admin role or ``ADMIN_TOKEN``).
401 ``UNAUTHORIZED`` means no or bad credentials; 403 ``FORBIDDEN`` means known, but not
allowed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from rag_chatbot.dependencies import get_container
from rag_chatbot.errors import Forbidden, InvalidInput, Unauthorized

CLIENT_TOKEN_HEADER = "X-Client-Token"
_CLIENT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


@dataclass(frozen=True)
class Principal:
    """The caller. ``owner`` is what their chat sessions are stored under."""

    kind: Literal["user", "admin_token", "anonymous"]
    owner: str | None
    role: Literal["reader", "admin"] | None = None
    user_id: str | None = None
    session_id: str | None = None  # the login session of a user
    issued_client_token: str | None = None  # minted for this request; sent back in a header

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def anonymous_owner(client_token: str) -> str:
    """The owner of an anonymous browser's sessions: a hash, so the token is never stored."""
    return "anon:" + hashlib.sha256(client_token.encode()).hexdigest()[:40]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """The caller of ``request`` (computed once per request)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await _identify(request)
    request.state.principal = principal
    return principal


async def _identify(request: Request) -> Principal:
    container = get_container(request)
    token = bearer_token(request)
    if token is not None:
        admin_token = container.settings.admin_token
        if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
            return Principal("admin_token", owner="admin", role="admin")
        claims = await container.auth.verify_access(token)
        return Principal(
            "user",
            owner=f"user:{claims.user_id}",
            role=claims.role,
            user_id=claims.user_id,
            session_id=claims.session_id,
        )
    client_token = request.headers.get(CLIENT_TOKEN_HEADER)
    if client_token is not None:
        if not _CLIENT_TOKEN.match(client_token):
            raise InvalidInput(
                f"{CLIENT_TOKEN_HEADER} must be 16-128 characters of A-Z a-z 0-9 _ -"
            )
        return Principal("anonymous", owner=anonymous_owner(client_token))
    return Principal("anonymous", owner=None)


async def chat_caller(request: Request) -> Principal:
    """A caller who may ask questions; an anonymous one without a token gets one minted."""
    principal = await current_principal(request)
    if principal.kind == "anonymous":
        if not get_container(request).settings.allow_anonymous_chat:
            raise Unauthorized("log in to ask questions")
        if principal.owner is None:
            token = secrets.token_urlsafe(24)
            principal = Principal(
                "anonymous", owner=anonymous_owner(token), issued_client_token=token
            )
            request.state.principal = principal
    return principal


async def identified_caller(request: Request) -> Principal:
    """A caller whose own sessions can be listed: a user, the operator or a client token."""
    principal = await current_principal(request)
    if principal.owner is None:
        raise Unauthorized(f"log in, or send the {CLIENT_TOKEN_HEADER} your chats were made with")
    return principal


async def logged_in_user(request: Request) -> Principal:
    principal = await current_principal(request)
    if principal.kind != "user":
        raise Unauthorized("log in first")
    return principal


async def admin(request: Request) -> Principal:
    principal = await current_principal(request)
    if principal.kind == "anonymous":
        raise Unauthorized("admin credentials required")
    if not principal.is_admin:
        raise Forbidden("this needs the admin role")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
ChatCallerDep = Annotated[Principal, Depends(chat_caller)]
OwnerDep = Annotated[Principal, Depends(identified_caller)]
UserDep = Annotated[Principal, Depends(logged_in_user)]
AdminDep = Annotated[Principal, Depends(admin)]
