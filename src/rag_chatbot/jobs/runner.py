"""Runner: this process as a runner of tasks — its name, the tasks it holds, whether it stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rag_chatbot.jobs.store import Task


@dataclass
class Runner:
    """This process as a runner of tasks: its name, the tasks it holds, whether it stops.

    ``held`` is what the keeper renews heartbeats for; ``working`` maps a thread to the task
    it is indexing, the part of a task a stopping worker may interrupt (``jobs.worker``).
    """

    name: str
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: set[tuple[str, int]] = field(default_factory=set)
    working: dict[int, tuple[str, int]] = field(default_factory=dict)

    def holding(self) -> set[tuple[str, int]]:
        with self.lock:
            return set(self.held)

    @contextmanager
    def hold(self, task: Task) -> Iterator[None]:
        key = (task.job_id, task.seq)
        with self.lock:
            self.held.add(key)
        try:
            yield
        finally:
            with self.lock:
                self.held.discard(key)

    @contextmanager
    def interruptible(self, task: Task) -> Iterator[None]:
        with self.lock:
            self.working[threading.get_ident()] = (task.job_id, task.seq)
        try:
            yield
        finally:
            with self.lock:
                self.working.pop(threading.get_ident(), None)
