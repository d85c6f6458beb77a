"""The ``Generator`` protocol: a question and its passages in, an answer with citations out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rag_chatbot.domain import Answer, ScoredChunk


class Generator(Protocol):
    """Writes the answer from passages already judged to support one.

    Contract: ``generate(question, passages)`` uses only ``passages`` (best first); every
    ``[n]`` marker in ``Answer.answer`` refers to ``Answer.citations[n-1]``, whose fields come
    from the cited passage. If the passages turn out not to answer the question it returns
    ``grounded=False`` and says so. ``name`` is recorded with each answer. Raises
    ``ProviderError`` when a backing model fails.
    """

    name: str

    def generate(self, question: str, passages: Sequence[ScoredChunk]) -> Answer: ...
