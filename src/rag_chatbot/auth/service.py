"""AuthService: log in, refresh, log out, and check an access token.

A login creates a *login session* in the key-value store under ``session:<sid>`` (Redis when
``REDIS_URL`` is set, so deleting ``session:*`` logs everyone out), living as long as its
refresh token. Two HS256 JWTs name it:

- the access token (``typ: access``, ``ACCESS_TOKEN_MINUTES``): sent on every request; valid
  while its signature, expiry, login session and account version are;
- the refresh token (``typ: refresh``, ``REFRESH_TOKEN_DAYS``): trades for a new pair once.
  Each refresh rotates it; presenting an already-used refresh token revokes the whole login
  session (someone copied it).

Both carry ``ver``, the account's ``token_version`` when they were issued. A role change, a
password change or a deletion changes or removes it, so every earlier token is refused at
once; the role a request acts with is the account's current one, read from the database
(kept beside the login session in Redis: ``auth/accounts.py``).

Revocation fails closed: when the key-value store cannot say whether a login session still
exists, a token is refused with 503 rather than accepted (it may have been logged out).
Anonymous questions and the operator's ``ADMIN_TOKEN`` need no look-up and keep working.
Wrong passwords are limited per account (``auth/guesses.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt

from rag_chatbot.auth.accounts import AccountStates, session_key
from rag_chatbot.auth.guesses import LoginGuard
from rag_chatbot.auth.users import Role, UserRepository
from rag_chatbot.config import Settings
from rag_chatbot.db.models import UserRow
from rag_chatbot.errors import ServiceUnavailable, Unauthorized
from rag_chatbot.keyvalue import KeyValueStore, StoreUnavailable

log = logging.getLogger(__name__)
ALGORITHM = "HS256"
ISSUER = "rag-chatbot"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says about its bearer."""

    user_id: str
    role: Role
    session_id: str


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        store: KeyValueStore,
        secret: str,
        *,
        access_seconds: int = 1800,
        refresh_seconds: int = 14 * 86400,
    ) -> None:
        self.users = users
        self._store = store
        self._secret = secret
        self._access_seconds = access_seconds
        self._refresh_seconds = refresh_seconds
        self._guard = LoginGuard(store)
        self._accounts = AccountStates(users, store)

    # -- tokens ------------------------------------------------------------------------------

    def _encode(self, claims: dict[str, object], seconds: int) -> str:
        now = int(time.time())
        body = {**claims, "iss": ISSUER, "iat": now, "exp": now + seconds}
        return jwt.encode(body, self._secret, algorithm=ALGORITHM)

    def _decode(self, token: str, kind: str) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token") from exc
        if claims.get("typ") != kind:
            raise Unauthorized(
                f"not an {kind} token" if kind == "access" else "not a refresh token"
            )
        return claims

    def _issue(self, user: UserRow, session_id: str) -> TokenPair:
        refresh_id = uuid.uuid4().hex
        record = {"user_id": user.id, "refresh_id": refresh_id, "created": int(time.time())}
        self._write(session_key(session_id), record)
        version = user.token_version or 0
        access = self._encode(
            {"sub": user.id, "role": user.role, "sid": session_id, "typ": "access", "ver": version},
            self._access_seconds,
        )
        refresh = self._encode(
            {
                "sub": user.id,
                "sid": session_id,
                "typ": "refresh",
                "jti": refresh_id,
                "ver": version,
            },
            self._refresh_seconds,
        )
        return TokenPair(access, refresh, self._access_seconds)

    def _write(self, key: str, record: dict[str, object]) -> None:
        try:
            self._store.set(key, json.dumps(record).encode(), ttl=self._refresh_seconds)
        except StoreUnavailable as exc:
            raise ServiceUnavailable("login is unavailable right now; try again shortly") from exc

    def _read(self, session_id: str) -> dict[str, object] | None:
        try:
            raw = self._store.get(session_key(session_id))
        except StoreUnavailable as exc:
            raise ServiceUnavailable("login is unavailable right now; try again shortly") from exc
        return None if raw is None else dict(json.loads(raw))

    # -- flows -------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> TokenPair:
        name = username.strip().lower()[:64]
        self._guard.attempt(name)
        user = self.users.authenticate(username, password)
        if user is None:
            raise Unauthorized("wrong username or password")
        self._guard.succeeded(name)
        return self._issue(user, uuid.uuid4().hex)

    def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._decode(refresh_token, "refresh")
        session_id = str(claims["sid"])
        record = self._read(session_id)
        if record is None:
            raise Unauthorized("logged out")
        if record.get("refresh_id") != claims.get("jti"):
            self._revoke(session_id)
            log.warning("refresh token reused; login session revoked", extra={"sid": session_id})
            raise Unauthorized("refresh token already used; log in again")
        user = self.users.get(str(claims["sub"]))
        if user is None or user.token_version != claims.get("ver", 0):
            self._revoke(session_id)
            raise Unauthorized("this login was ended by an account change; log in again")
        return self._issue(user, session_id)

    def logout(self, access: AccessClaims) -> None:
        self._revoke(access.session_id)

    def _revoke(self, session_id: str) -> None:
        try:
            self._store.delete(session_key(session_id))
        except StoreUnavailable as exc:
            raise ServiceUnavailable("logout is unavailable right now; try again shortly") from exc

    async def verify_access(self, token: str) -> AccessClaims:
        """The bearer of a valid, unrevoked access token; ``Unauthorized`` otherwise.

        ``async``: it runs for every logged-in request, in the event loop.
        """
        claims = self._decode(token, "access")
        if claims.get("role") not in ("reader", "admin"):
            raise Unauthorized("invalid token")
        session_id, user_id = str(claims["sid"]), str(claims["sub"])
        try:
            alive, state = await self._accounts.check(session_id, user_id)
        except StoreUnavailable as exc:  # fail closed: see the module doc
            raise ServiceUnavailable(
                "logins cannot be checked right now; try again shortly"
            ) from exc
        if not alive:
            raise Unauthorized("logged out")
        if state is None or state[1] != claims.get("ver", 0):
            raise Unauthorized("this login was ended by an account change; log in again")
        return AccessClaims(user_id, state[0], session_id)

    def unverified_subject(self, token: str) -> str | None:
        """The user id of a correctly signed, unexpired access token, without the store lookup.

        For rate limiting, which must be cheap and is not an authorisation decision.
        """
        try:
            return str(self._decode(token, "access")["sub"])
        except Unauthorized:
            return None


def jwt_secret(settings: Settings) -> str:
    """``JWT_SECRET_KEY``, or in development a random key kept in ``DATA_DIR`` (0600).

    Kept on disk so that every worker of ``serve --workers N`` and every restart accepts the
    same tokens. ``Settings`` already refused a missing or weak key outside development.
    """
    if settings.jwt_secret_key:
        return settings.jwt_secret_key
    path = Path(settings.data_dir) / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".jwt-secret.{os.getpid()}.{uuid.uuid4().hex}")
        draft.write_text(secrets.token_hex(32), encoding="utf-8")
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)  # atomic: the first process's key wins, whole
        draft.unlink()
    return path.read_text(encoding="utf-8").strip()
