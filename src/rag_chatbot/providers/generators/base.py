"""The ``ChatModel`` protocol (messages in, text out) and the retry rule every model shares.

A chat model is a vendor's language model seen through one small interface; the answering
layer (``answering/llm.py``) builds the grounded prompt and checks the citations. Vendor errors
become the package's own: ``ProviderTimeout`` (no answer in time — not retried, the caller
falls back), ``ProviderUnavailable`` (cannot connect, 429, 5xx — retried with backoff) and
``ProviderError`` (anything else, e.g. a bad key or a prompt the model refuses — not retried).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from rag_chatbot.errors import ProviderUnavailable

Role = Literal["system", "user", "assistant"]
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One message of a chat prompt."""

    role: Role
    content: str


class ChatModel(Protocol):
    """A language model that continues a conversation.

    Contract:
    - ``name`` is the provider (``openai``, ``gemini``), ``model`` the model asked for.
    - ``stream(messages, max_tokens=...)`` yields the reply's text in pieces as the model
      writes them (pieces are never empty). It retries with backoff (``RetryPolicy``) while
      nothing has been yielded; once text has been yielded, a failure is raised as is.
    - ``complete(messages, max_tokens=...)`` is the whole reply at once.
    - ``check()`` returns when the service answers (a cheap call such as listing models).
    - All raise ``ProviderTimeout``, ``ProviderUnavailable`` or ``ProviderError``.
    """

    name: str
    model: str

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str]: ...

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str: ...

    def check(self) -> None: ...


class RetryingModel:
    """``stream`` and ``complete`` with the retry rule, around a vendor's single attempts.

    Subclasses set ``name`` and ``_retry`` and write ``_stream_once`` and ``_complete_once``.
    """

    name: str
    _retry: RetryPolicy

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str]:
        return stream_with_retries(
            lambda: self._stream_once(messages, max_tokens), self._retry, provider=self.name
        )

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        return call_with_retries(
            lambda: self._complete_once(messages, max_tokens), self._retry, provider=self.name
        )

    def _stream_once(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        raise NotImplementedError

    def _complete_once(self, messages: Sequence[Message], max_tokens: int) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before asking again after a retryable failure.

    ``retries`` more attempts after the first; the n-th wait is drawn uniformly from
    ``[0, min(max_delay, base_delay * 2**n)]`` ("full jitter": many clients hit by the same
    429 do not come back in step).
    """

    retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.max_delay, self.base_delay * 2**attempt))


def stream_with_retries(
    open_stream: Callable[[], Iterator[str]],
    policy: RetryPolicy,
    *,
    provider: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Yield ``open_stream()``'s pieces; on ``ProviderUnavailable`` before the first piece, retry.

    A failure after a piece was yielded is raised unchanged: asking again would repeat text
    the caller has already passed on.
    """
    attempt = 0
    while True:
        started = False
        try:
            for piece in open_stream():
                if piece:
                    started = True
                    yield piece
            return
        except ProviderUnavailable as exc:
            if started:
                raise
            _wait_or_raise(exc, attempt, policy, provider, sleep)
            attempt += 1


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    provider: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried with backoff on ``ProviderUnavailable``."""
    attempt = 0
    while True:
        try:
            return call()
        except ProviderUnavailable as exc:
            _wait_or_raise(exc, attempt, policy, provider, sleep)
            attempt += 1


def _wait_or_raise(
    exc: ProviderUnavailable,
    attempt: int,
    policy: RetryPolicy,
    provider: str,
    sleep: Callable[[float], None],
) -> None:
    if attempt >= policy.retries:
        raise exc
    wait = policy.delay(attempt)
    log.warning(
        "llm_retry",
        extra={"provider": provider, "attempt": attempt + 1, "wait": round(wait, 2)},
    )
    sleep(wait)
