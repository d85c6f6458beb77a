"""LoginGuard: a per-account limit on password guesses, with exponential backoff.

The per-IP budget (``RATE_LIMIT_AUTH``) stops one address; an attacker with many addresses is
stopped here, by the account they guess at, whatever address each guess comes from.

- Each account has ``FREE_FAILURES`` wrong passwords before any wait.
- After that, one attempt is let through per *turn*, and each turn lasts twice as long as the
  one before (2 s, 4 s, 8 s, ... up to ``MAX_LOCK_SECONDS``). An attempt that finds the turn
  taken is refused with 429 and ``Retry-After`` before any password is checked, the right one
  included, so a guesser learns nothing and the real owner waits at most ``MAX_LOCK_SECONDS``.
- An attempt is counted *before* its password is checked, so many guesses sent at once cannot
  all slip past the count; a successful login clears it, and so does
  ``FAILURE_MEMORY_SECONDS`` without a failure.

Names that do not exist are counted the same way, so the limit does not tell which exist.
The counts live in the key-value store (Redis when set: shared by every replica); when it is
unreachable, logging in answers 503, as it must anyway to write the login session.
"""

from __future__ import annotations

import math
import time

from rag_chatbot.errors import RateLimited, ServiceUnavailable
from rag_chatbot.keyvalue import KeyValueStore, StoreUnavailable

FREE_FAILURES = 5  # typos and a forgotten caps lock, before any wait
MAX_LOCK_SECONDS = 15 * 60  # ~4 guesses an hour per account once the turns top out
FAILURE_MEMORY_SECONDS = 24 * 3600


class LoginGuard:
    def __init__(self, store: KeyValueStore) -> None:
        self._store = store

    def attempt(self, name: str) -> None:
        """Count an attempt on ``name``; ``RateLimited`` if it must wait for its turn."""
        try:
            attempts = self._store.incr(_count_key(name), ttl=FAILURE_MEMORY_SECONDS)
            if attempts <= FREE_FAILURES:
                return
            # The length follows the turns granted so far, not the attempts: guesses racing
            # for one turn all ask for the same length, whichever of them wins.
            granted = int(self._store.get(_turns_key(name)) or 0)
            seconds = turn_seconds(granted + 1)
            until = time.time() + seconds
            if self._store.add(_turn_key(name), str(until).encode(), ttl=seconds):
                self._store.incr(_turns_key(name), ttl=FAILURE_MEMORY_SECONDS)
                return
            self._store.incr(_count_key(name), -1)  # a refused attempt checked nothing
            raw = self._store.get(_turn_key(name))
        except StoreUnavailable as exc:
            raise ServiceUnavailable("login is unavailable right now; try again shortly") from exc
        wait = max(1, math.ceil(float(raw) - time.time())) if raw is not None else 1
        raise RateLimited(f"too many wrong passwords for this account; retry in {wait} s", wait)

    def succeeded(self, name: str) -> None:
        try:
            self._store.delete(_count_key(name), _turn_key(name), _turns_key(name))
        except StoreUnavailable as exc:
            raise ServiceUnavailable("login is unavailable right now; try again shortly") from exc


def turn_seconds(turn: int) -> int:
    """How long the ``turn``-th turn after the free attempts lasts (2, 4, 8 s, ...)."""
    return int(min(2 ** min(turn, 30), MAX_LOCK_SECONDS))


def _count_key(name: str) -> str:
    return f"login-attempts:{name}"


def _turn_key(name: str) -> str:
    return f"login-turn:{name}"


def _turns_key(name: str) -> str:
    return f"login-turns:{name}"
