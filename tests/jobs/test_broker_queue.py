"""BrokerQueue on the real brokers (Redis, RabbitMQ): delivery, retries with backoff, the idle
check the keeper relies on, and a clear error when the broker is down.

The handlers here record what they are given: what is under test is the broker's side (what is
delivered, when, how often), with a real Dramatiq worker consuming a real queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq
import pytest

from rag_chatbot.errors import ServiceUnavailable
from rag_chatbot.jobs.broker import BrokerQueue
from rag_chatbot.jobs.queue import Transient

pytestmark = pytest.mark.integration


class Recorder:
    """Handlers that note each call (name, args, retries so far, time) and fail as told."""

    def __init__(self, queue: BrokerQueue, failures: int = 0) -> None:
        self.queue = queue
        self.failures = failures
        self.calls: list[tuple[str, tuple[object, ...], int, float]] = []
        self.changed = threading.Condition()

    def _note(self, name: str, *args: object) -> None:
        with self.changed:
            self.calls.append((name, args, self.queue.retries(), time.monotonic()))
            self.changed.notify_all()

    def plan(self, job_id: str) -> None:
        self._note("plan", job_id)

    def run(self, job_id: str, seq: int) -> None:
        self._note("run", job_id, seq)
        if sum(c[0] == "run" for c in self.calls) <= self.failures:
            raise Transient("the database is restarting")

    def finish(self, job_id: str) -> None:
        self._note("finish", job_id)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.calls) >= count, timeout), self.calls


@contextmanager
def consuming(queue: BrokerQueue, handlers: Recorder) -> Iterator[None]:
    queue.attach(handlers)
    worker = dramatiq.Worker(
        queue.broker, queues={queue.queue}, worker_threads=1, worker_timeout=100
    )
    worker.start()
    try:
        yield
    finally:
        worker.stop(timeout=10_000)
        queue.close()


@pytest.fixture(params=["redis", "rabbitmq"])
def queue(request: pytest.FixtureRequest) -> BrokerQueue:
    url, name = request.getfixturevalue(f"{request.param}_queue")
    return BrokerQueue(url, name, max_retries=3)


def test_messages_arrive_and_a_transient_failure_is_retried_with_backoff(
    queue: BrokerQueue,
) -> None:
    handlers = Recorder(queue, failures=2)
    with consuming(queue, handlers):
        queue.send_plan("job-1")
        handlers.wait_for(1)
        queue.send_tasks("job-1", [7])
        handlers.wait_for(4)  # the plan, then the task three times
        queue.send_finish("job-1")
        handlers.wait_for(5)
        deadline = time.monotonic() + 10
        while not queue.idle() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert queue.idle()
    runs = [c for c in handlers.calls if c[0] == "run"]
    assert [c[1] for c in runs] == [("job-1", 7)] * 3
    assert [c[2] for c in runs] == [0, 1, 2]  # what the handler reads as retries so far
    first, second = runs[1][3] - runs[0][3], runs[2][3] - runs[1][3]
    assert 0.45 <= first < 5 and 0.9 <= second < 8  # 1 s then 2 s, jittered down by half
    assert [c[0] for c in handlers.calls] == ["plan", "run", "run", "run", "finish"]


def test_retries_end_at_the_limit(queue: BrokerQueue) -> None:
    handlers = Recorder(queue, failures=100)
    with consuming(queue, handlers):
        queue.send_tasks("job-2", [0])
        handlers.wait_for(4, timeout=60)  # the first try and three retries
        time.sleep(2.5)  # a fifth would have come by now
    assert [c[2] for c in handlers.calls] == [0, 1, 2, 3]


@pytest.mark.parametrize("url", ["redis://127.0.0.1:9/0", "amqp://guest:guest@127.0.0.1:9/%2F"])
def test_an_unreachable_broker_is_a_clear_service_error(url: str) -> None:
    queue = BrokerQueue(url, "nowhere")
    with pytest.raises(ServiceUnavailable, match="the job broker is unreachable"):
        queue.send_plan("job-3")
