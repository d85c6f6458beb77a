"""AccountStates: what every token check compares a token with — the login session, and the
account's current role and token version.

The database holds the account; reading it on every request, through the thread pool, made
a logged-in request markedly slower (``benchmarks/cache_load.py``). So with Redis, the state
is kept beside the login session, as ``account:<user id>``, and one ``MGET`` answers both
questions. Two writers keep it right:

- a request that finds no entry reads the database and adds one (``add``: only if absent);
- a change to the account (``users set-role``, ``set-password``, ``delete``) writes the new
  state over whatever is there (``publish``). A request that read the old state just before
  the change cannot put it back: its ``add`` finds the published entry and does nothing.

A change is seen at once when the command runs with the servers' ``REDIS_URL`` and
``REDIS_KEY_PREFIX`` (as it does inside their container). An entry lives ``CACHE_SECONDS``,
which bounds how long a change that was not published (the command ran without Redis, or
Redis was unreachable) goes unseen; a miss costs one database read per account per entry.
Without Redis, every process has its own store, which the command line cannot reach: the
database is read on every request.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from rag_chatbot.auth.users import Role, UserRepository
from rag_chatbot.keyvalue import KeyValueStore

CACHE_SECONDS = 30
_GONE = b"-"  # a deleted account: cached too, so a dead token does not reach the database
State = tuple[Role, int] | None


class AccountStates:
    def __init__(self, users: UserRepository, store: KeyValueStore) -> None:
        self._users = users
        self._store = store
        self._shared = store.backend == "redis"

    async def check(self, session_id: str, user_id: str) -> tuple[bool, State]:
        """Whether the login session lives, and the account's role and token version.

        ``StoreUnavailable`` when the store cannot say (the caller fails closed).
        """
        if not self._shared:
            (session,) = await self._store.aget_many([session_key(session_id)])
            if session is None:
                return False, None
            return True, await run_in_threadpool(self._users.token_state, user_id)
        session, cached = await self._store.aget_many(
            [session_key(session_id), _account_key(user_id)]
        )
        if session is None:
            return False, None
        if cached is not None:
            return True, _decode(cached)
        return True, await run_in_threadpool(self._load, user_id)

    def publish(self, user_id: str) -> None:
        """Write the account's state from the database over the stored one (after a change)."""
        if self._shared:
            state = self._users.token_state(user_id)
            self._store.set(_account_key(user_id), _encode(state), ttl=CACHE_SECONDS)

    def _load(self, user_id: str) -> State:
        state = self._users.token_state(user_id)
        self._store.add(_account_key(user_id), _encode(state), ttl=CACHE_SECONDS)
        return state


def session_key(session_id: str) -> str:
    """Where a login session lives in the key-value store (one place for its name)."""
    return f"session:{session_id}"


def _account_key(user_id: str) -> str:
    return f"account:{user_id}"


def _encode(state: State) -> bytes:
    return _GONE if state is None else f"{state[0]}:{state[1]}".encode()


def _decode(raw: bytes) -> State:
    if raw == _GONE:
        return None
    role, _, version = raw.decode().partition(":")
    return ("admin" if role == "admin" else "reader"), int(version)
