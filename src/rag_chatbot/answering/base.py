"""The ``Generator`` protocol: a question and its passages in, an answer with citations out.

Generators also stream: ``stream`` yields the answer's text in pieces as it is written, then
the finished ``Answer``. A generator that writes its answer all at once streams it a sentence
at a time (``stream_finished``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from rag_chatbot.domain import Answer, ScoredChunk

_PIECE = re.compile(r".*?(?:[.!?](?=\s)|\n|$)\s*", re.DOTALL)


@dataclass(frozen=True)
class Turn:
    """An earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Restart:
    """In a stream: the text sent so far is withdrawn; the pieces that follow replace it.

    Sent when a model fails mid-answer and another generator answers instead.
    """

    reason: str


StreamItem = str | Restart | Answer


class Generator(Protocol):
    """Writes the answer from passages already judged to support one.

    Contract: ``generate(question, passages, history=...)`` uses only ``passages`` (best
    first) as sources, and ``history`` (earlier turns, oldest first) only to understand the
    question; every ``[n]`` marker in ``Answer.answer`` refers to ``Answer.citations[n-1]``,
    whose fields come from the cited passage. If the passages turn out not to answer the
    question it returns ``grounded=False`` and says so. ``name`` is recorded with each
    answer. Raises ``ProviderError`` when a backing model fails.

    ``stream(...)`` yields text pieces (``str``), possibly a ``Restart``, and last the same
    ``Answer`` that ``generate`` would return; the pieces since the last ``Restart`` join to
    ``Answer.answer``. It raises like ``generate``, possibly after some pieces.
    """

    name: str

    def generate(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Answer: ...

    def stream(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Iterator[StreamItem]: ...


def stream_finished(answer: Answer) -> Iterator[StreamItem]:
    """A finished answer as a stream: its text a sentence (or line) at a time, then itself."""
    for match in _PIECE.finditer(answer.answer):
        if match.group():
            yield match.group()
    yield answer
