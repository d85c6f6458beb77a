"""BrokerQueue: a job's messages on Dramatiq, over Redis (``redis://``) or RabbitMQ (``amqp://``).

Dramatiq acknowledges a message only after its actor returns, so a task whose worker died is
delivered again: RabbitMQ does it as soon as the connection drops; Redis when the dead
worker's heartbeat is older than ``HEARTBEAT_MS`` and another worker's next call runs the
queue's upkeep (``UPKEEP_CHANCE``). Retries of transient errors (``Transient``) wait 1 s, 2 s,
4 s... up to a minute, at most ``max_retries`` times.

Messages hold ids only (a job and a task number); what they mean is in the database
(``jobs.store``), which is why a repeated message is harmless and a lost one can be sent
again (``jobs.keeper``, which asks ``idle`` whether the broker still holds anything).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries

from rag_chatbot.errors import ServiceUnavailable
from rag_chatbot.jobs.queue import HandBack, Handlers, Transient

# Redis: a worker silent for this long is dead and its unacknowledged messages are requeued.
# Long enough for a worker's busiest moment (its consumers call Redis about once a second).
HEARTBEAT_MS = 30_000
# Redis: the share (per million) of broker calls that also run the queue's upkeep (requeue
# dead workers' messages). About one call a second a worker: upkeep within ~10 s of a death.
UPKEEP_CHANCE = 100_000
NAMESPACE = "rag-chatbot"
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000
_ACTORS = ("plan", "run", "finish")


def _retryable(max_retries: int) -> Callable[[int, BaseException], bool]:
    def retry_when(retries: int, exception: BaseException) -> bool:
        return isinstance(exception, Transient | HandBack) and retries < max_retries

    return retry_when


class BrokerQueue:
    """The job messages on the broker at ``url``, in ``queue``.

    Contract: ``send_*`` raise ``ServiceUnavailable`` when the broker cannot be reached;
    ``attach(handlers)`` makes this process able to run the messages (a worker); ``idle``
    is True when the broker holds no message of ``queue`` at all, waiting, delayed or in a
    worker's hands. ``broker`` is the Dramatiq broker a ``dramatiq.Worker`` consumes.
    """

    def __init__(self, url: str, queue: str, max_retries: int = 5) -> None:
        self.queue = queue
        self._max_retries = max_retries
        middleware = [CurrentMessage(), Retries(max_retries=max_retries)]
        self.broker: dramatiq.Broker
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30
            )
            self.broker = RedisBroker(  # type: ignore[no-untyped-call]
                client=client,
                namespace=NAMESPACE,
                middleware=middleware,
                heartbeat_timeout=HEARTBEAT_MS,
                maintenance_chance=UPKEEP_CHANCE,
            )
        else:
            self.broker = RabbitmqBroker(url=url, middleware=middleware, confirm_delivery=True)
        self._handlers: Handlers | None = None
        options: dict[str, Any] = {
            "max_retries": max_retries,
            "min_backoff": MIN_BACKOFF_MS,
            "max_backoff": MAX_BACKOFF_MS,
            "retry_when": _retryable(max_retries),
        }
        self._actors = {
            name: dramatiq.Actor(
                self._dispatcher(name),
                broker=self.broker,
                actor_name=f"rag_chatbot.jobs.{name}",
                queue_name=queue,
                priority=0,
                options=options,
            )
            for name in _ACTORS
        }

    @property
    def max_retries(self) -> int:
        return self._max_retries

    def attach(self, handlers: Handlers) -> None:
        self._handlers = handlers

    def _dispatcher(self, name: str) -> Callable[..., None]:
        def dispatch(*args: Any) -> None:
            if self._handlers is None:
                raise RuntimeError("this process sends jobs; a worker runs them")
            getattr(self._handlers, name)(*args)

        dispatch.__name__ = name
        return dispatch

    def send_plan(self, job_id: str) -> None:
        self._send("plan", job_id)

    def send_tasks(self, job_id: str, seqs: Sequence[int]) -> None:
        for seq in seqs:
            self._send("run", job_id, seq)

    def send_finish(self, job_id: str) -> None:
        self._send("finish", job_id)

    def _send(self, name: str, *args: Any) -> None:
        try:
            self._actors[name].send(*args)
        except Exception as exc:  # redis, pika and dramatiq each raise their own
            raise ServiceUnavailable(
                f"the job broker is unreachable ({type(exc).__name__})"
            ) from exc

    def retries(self) -> int:
        message = CurrentMessage.get_current_message()
        return int(message.options.get("retries", 0)) if message is not None else 0

    def idle(self) -> bool:
        """True when the broker holds no message of the queue (see the class)."""
        broker = self.broker
        if isinstance(broker, RedisBroker):
            client: Any = broker.client
            held = (f"{NAMESPACE}:{self.queue}.msgs", f"{NAMESPACE}:{self.queue}.DQ.msgs")
            return sum(int(client.hlen(key)) for key in held) == 0
        assert isinstance(broker, RabbitmqBroker)
        ready, later, _ = broker.get_queue_message_counts(self.queue)
        return ready + later == 0

    def close(self) -> None:
        self.broker.close()
