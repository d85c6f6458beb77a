"""What a job sends and who handles it: the three messages, the queues that carry them.

A job is planned (``plan``: a folder listed, a site's crawl or a re-index's documents made
into tasks), its tasks are run (``run``: one document each), and it is finished (``finish``:
the folder's missing files pruned, the index optimised). ``BrokerQueue`` carries these through
a broker to ``rag-chatbot worker`` processes; ``InlineQueue`` runs them in the process that
sends them. Both call the same ``Handlers`` (``jobs.tasks``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import sqlalchemy.exc

from rag_chatbot.errors import ProviderTimeout, ProviderUnavailable


class Transient(Exception):
    """A task stopped by an outage (a server unreachable): worth running again later."""


class HandBack(BaseException):
    """Raised in a task's thread when its worker stops: the task goes back to the queue.

    A ``BaseException``, as ``KeyboardInterrupt`` is: the ``except Exception`` of the code it
    interrupts (a loader's, a failure's handler) must not take it for the document's error.
    """


# What an outage raises: a server or the database unreachable, a call that timed out.
TRANSIENT = (
    ProviderUnavailable,
    ProviderTimeout,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    ConnectionError,
    TimeoutError,
)
_Handler = TypeVar("_Handler", bound=Callable[..., None])


def outage_is_transient(handler: _Handler) -> _Handler:
    """An outage met anywhere in ``handler`` (its own database calls too) becomes ``Transient``,
    so the message is retried with backoff rather than dropped."""

    @functools.wraps(handler)
    def guarded(*args: Any) -> None:
        try:
            handler(*args)
        except TRANSIENT as exc:
            raise Transient(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc

    return guarded  # type: ignore[return-value]


class Handlers(Protocol):
    """The work each message stands for. ``Transient`` asks for a retry with backoff."""

    def plan(self, job_id: str) -> None: ...

    def run(self, job_id: str, seq: int) -> None: ...

    def finish(self, job_id: str) -> None: ...


class MessageQueue(Protocol):
    """Sends a job's messages. Raises ``ServiceUnavailable`` when the broker is unreachable."""

    def send_plan(self, job_id: str) -> None: ...

    def send_tasks(self, job_id: str, seqs: Sequence[int]) -> None: ...

    def send_finish(self, job_id: str) -> None: ...

    def retries(self) -> int:
        """How many times the message being handled in this thread was retried (0: first)."""
        ...

    @property
    def max_retries(self) -> int: ...
