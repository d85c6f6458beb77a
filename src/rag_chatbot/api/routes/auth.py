"""Accounts: register, log in, refresh, log out, and who am I."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rag_chatbot.api.openapi import BEARER, errors
from rag_chatbot.api.security import PrincipalDep, UserDep
from rag_chatbot.api.storable import StorableBody
from rag_chatbot.auth.service import AccessClaims, TokenPair
from rag_chatbot.auth.users import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, UsernameTaken
from rag_chatbot.dependencies import AuthDep, SettingsDep, UsersDep
from rag_chatbot.errors import Forbidden, RateLimited, Unauthorized
from rag_chatbot.observability.log_context import AUTH_LOGGER, client_address_var

router = APIRouter(prefix="/api/auth", tags=["auth"])
auth_log = logging.getLogger(AUTH_LOGGER)


class Credentials(StorableBody):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class Registration(StorableBody):
    """A new account, as ``UserRepository.create`` takes it (the spec tells the rules)."""

    # ``UserRepository.normalize``'s rule before it lower-cases the name.
    username: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}$",
        description="3-64 letters, digits and _ . @ -, starting with a letter or digit; "
        "case does not matter (it is stored lower-case).",
    )
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


class RefreshRequest(StorableBody):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")


class UserOut(BaseModel):
    id: str
    username: str
    role: str


def _tokens(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


@router.post("/register", response_model=UserOut, status_code=201, responses=errors(403))
async def register(body: Registration, settings: SettingsDep, users: UsersDep) -> UserOut:
    """Create a reader account (when ``ALLOW_REGISTRATION``); admins are made on the CLI.

    A name that is taken is answered as a free one is (201, the same fields, the same password
    hashing) and nothing is created, so the answer does not tell which names have accounts.
    Logging in with the new password tells the registrant whether the account is theirs.
    """
    if not settings.allow_registration:
        raise Forbidden("registration is closed; ask an administrator for an account")
    try:
        row = await run_in_threadpool(users.create, body.username, body.password)
    except UsernameTaken:
        name = users.normalize(body.username)
        return UserOut(id=str(uuid.uuid4()), username=name, role="reader")
    return UserOut(id=row.id, username=row.username, role=row.role)


@router.post("/login", response_model=TokenOut, responses=errors(401, 503))
async def login(body: Credentials, auth: AuthDep) -> TokenOut:
    """Trade a user name and password for an access token and a refresh token."""
    try:
        pair = await run_in_threadpool(auth.login, body.username, body.password)
    except (Unauthorized, RateLimited) as exc:
        _log_refusal("login", body.username.strip().lower(), exc)
        raise
    return _tokens(pair)


@router.post("/refresh", response_model=TokenOut, responses=errors(401, 503))
async def refresh(body: RefreshRequest, auth: AuthDep) -> TokenOut:
    """Trade a refresh token for a new pair; each refresh token works once."""
    try:
        return _tokens(await run_in_threadpool(auth.refresh, body.refresh_token))
    except Unauthorized as exc:
        _log_refusal("refresh", None, exc)  # a refused token's user may be forged: none
        raise


def _log_refusal(action: str, user: str | None, exc: Exception) -> None:
    """One ``auth_failed`` line (contract): what was refused, to whom, from where, and why."""
    auth_log.warning(
        "auth_failed",
        extra={
            "action": action,
            "user": user,
            "client": client_address_var.get(),
            "reason": str(exc),
        },
    )


@router.post("/logout", status_code=204)
async def logout(caller: UserDep, auth: AuthDep) -> Response:
    """End this login session: its access and refresh tokens stop working at once."""
    assert caller.user_id is not None and caller.session_id is not None and caller.role
    auth.logout(AccessClaims(caller.user_id, caller.role, caller.session_id))
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, openapi_extra={"security": BEARER})
async def me(caller: PrincipalDep, users: UsersDep) -> UserOut:
    """The logged-in account (or ``admin-token`` for the operator's ``ADMIN_TOKEN``)."""
    if caller.kind == "admin_token":
        return UserOut(id="admin-token", username="admin-token", role="admin")
    if caller.kind != "user":
        raise Unauthorized("log in first")
    row = await run_in_threadpool(users.get, caller.user_id or "")
    if row is None:
        raise Unauthorized("account no longer exists")
    return UserOut(id=row.id, username=row.username, role=row.role)
