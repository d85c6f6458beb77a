"""A language model with the extractive generator behind it: an answer even when the model fails.

When the model times out, cannot be reached or fails mid-answer, or writes an answer its
cited passages do not support (``support``), the question is answered by the fallback
generator instead, and the answer says so in its ``generator`` field, e.g.
``extractive (fallback: openai timed out)`` or ``extractive (fallback: unsupported: a cited
passage does not say what the answer says)``. Until the model answers again its state is
``degraded`` (shown as ``ai_service`` in ``/api/health/detailed``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Literal

from rag_chatbot.answering.base import Generator, Restart, StreamItem, Turn
from rag_chatbot.answering.llm import LlmGenerator
from rag_chatbot.answering.support import UnsupportedAnswer
from rag_chatbot.domain import Answer, ScoredChunk
from rag_chatbot.errors import ProviderError, ProviderTimeout, ProviderUnavailable

Status = Literal["healthy", "degraded"]
log = logging.getLogger(__name__)


class FallbackGenerator:
    """A ``Generator`` answering with ``primary``, or with ``fallback`` when it fails.

    Only ``ProviderError`` triggers the fallback. In a stream, a failure after some text was
    sent yields a ``Restart`` before the fallback's pieces. ``status()`` is ``degraded``
    from a failure until the next answer by the primary, or while its service does not
    answer ``check()``.
    """

    def __init__(self, primary: LlmGenerator, fallback: Generator) -> None:
        self._primary = primary
        self._fallback = fallback
        self.name = primary.name
        self._lock = threading.Lock()
        self._last_failure: str | None = None

    def generate(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Answer:
        try:
            answer = self._primary.generate(question, passages, history=history)
        except UnsupportedAnswer as exc:
            self._succeeded()
            return self._relabel(self._fallback.generate(question, passages), _unsupported(exc))
        except ProviderError as exc:
            reason = self._failed(exc, mid_answer=False)
            return self._relabel(self._fallback.generate(question, passages), reason)
        self._succeeded()
        return answer

    def stream(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Iterator[StreamItem]:
        sent = False
        try:
            for item in self._primary.stream(question, passages, history=history):
                sent = sent or isinstance(item, str)
                yield item
        except UnsupportedAnswer as exc:
            self._succeeded()
            reason = _unsupported(exc)
        except ProviderError as exc:
            reason = self._failed(exc, mid_answer=sent)
        else:
            self._succeeded()
            return
        if sent:
            yield Restart(reason)
        for item in self._fallback.stream(question, passages):
            yield self._relabel(item, reason) if isinstance(item, Answer) else item

    def status(self) -> Status:
        """``degraded`` after a failure not yet followed by a success, or if ``check`` fails."""
        with self._lock:
            if self._last_failure is not None:
                return "degraded"
        try:
            self._primary.check()
        except ProviderError:
            return "degraded"
        return "healthy"

    def _relabel(self, answer: Answer, reason: str) -> Answer:
        return replace(answer, generator=f"{self._fallback.name} (fallback: {reason})")

    def _failed(self, exc: ProviderError, *, mid_answer: bool) -> str:
        provider = self._primary.provider
        if mid_answer:
            reason = f"{provider} failed mid-answer"
        elif isinstance(exc, ProviderTimeout):
            reason = f"{provider} timed out"
        elif isinstance(exc, ProviderUnavailable):
            reason = f"{provider} unavailable"
        else:
            reason = f"{provider} failed"
        with self._lock:
            self._last_failure = reason
        log.warning("llm_fallback", extra={"generator": self.name, "reason": str(exc)})
        return reason

    def _succeeded(self) -> None:
        with self._lock:
            self._last_failure = None


def _unsupported(exc: UnsupportedAnswer) -> str:
    # The model works (not ``degraded``); this answer of it did not hold up.
    log.info("llm_answer_replaced", extra={"reason": exc.reason})
    return f"unsupported: {exc.reason}"
