"""Database pool usage for Prometheus: ``rag_chatbot_db_pool_in_use`` and ``_db_pool_size``.

``watch_pool(engine)`` hooks the engine's pool so both gauges (defined in ``metrics``) follow
it: capacity is published at once (pool size plus overflow), and connections checked out are
re-read from the pool at every checkout and checkin. Events rather than reading the pool only
when ``/api/metrics`` is scraped because of multiprocess mode: a scrape is answered by one
worker, and each worker's pool lives in that worker, so the others must keep their own value
current (the gauges are ``livesum``: the exposition sums live workers). ``refresh(engine)``
re-reads the pool of the scraped process just before rendering, which also corrects the
rare lost update when two threads return connections at the same moment.

Pools without a fixed capacity (``NullPool``, ``StaticPool``) publish nothing: a usage ratio
would be meaningless, and the alert's division yields no sample rather than a false alarm.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakSet

from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool, QueuePool

from rag_chatbot.observability.metrics import set_db_pool

# Pools already hooked (weakly held: a disposed engine's pool may go).
_WATCHED: WeakSet[Pool] = WeakSet()


def pool_capacity(pool: Pool) -> int | None:
    """The most connections ``pool`` will hand out at once, or ``None`` when unbounded."""
    if not isinstance(pool, QueuePool):
        return None
    overflow = int(getattr(pool, "_max_overflow", 0))
    # max_overflow=-1 means "no limit on overflow": no meaningful capacity either.
    return None if overflow < 0 else pool.size() + overflow


def watch_pool(engine: Engine) -> bool:
    """Publish ``engine``'s pool usage from now on; ``False`` if its pool has no capacity.

    Idempotent: a second call on the same engine adds no second set of listeners.
    """
    pool = engine.pool
    capacity = pool_capacity(pool)
    if capacity is None:
        return False
    if pool not in _WATCHED:
        _WATCHED.add(pool)

        # engine.pool, not pool: dispose() replaces the pool and carries these listeners over.
        def on_checkout(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            set_db_pool(in_use=_checked_out(engine.pool), size=capacity)

        def on_checkin(_dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy fires "checkin" before the connection is back in the pool: it counts.
            set_db_pool(in_use=max(0, _checked_out(engine.pool) - 1), size=capacity)

        event.listen(pool, "checkout", on_checkout)
        event.listen(pool, "checkin", on_checkin)
    set_db_pool(in_use=_checked_out(pool), size=capacity)
    return True


def refresh(engine: Engine) -> None:
    """Re-read ``engine``'s pool into the gauges (call before rendering a scrape)."""
    capacity = pool_capacity(engine.pool)
    if capacity is not None:
        set_db_pool(in_use=_checked_out(engine.pool), size=capacity)


def _checked_out(pool: Pool) -> int:
    return int(pool.checkedout()) if isinstance(pool, QueuePool) else 0
