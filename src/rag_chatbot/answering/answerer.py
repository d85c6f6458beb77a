"""The Answerer: retrieve, check grounding, generate — the path of a question."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag_chatbot.answering.base import Generator, StreamItem, Turn, stream_finished
from rag_chatbot.answering.extractive import NOT_FOUND
from rag_chatbot.domain import Answer, Chunk, ScoredChunk
from rag_chatbot.errors import InvalidInput
from rag_chatbot.observability.metrics import observe_generation, observe_retrieval
from rag_chatbot.retrieval.hybrid import HybridRetriever, RetrievalResult

SELECTION_SOURCE = "selection"
MAX_QUESTION_CHARS = 2000
MAX_SELECTION_CHARS = 20000


@dataclass(frozen=True)
class GroundingPolicy:
    """When retrieval supports an answer at all.

    all-MiniLM-L6-v2 gives unrelated question/passage pairs cosine similarities mostly below
    0.3 and on-topic pairs above 0.4; below ``min_dense`` nothing found is about the question,
    and saying so beats quoting the least-bad passage.
    """

    min_dense: float = 0.35

    def supports(self, result: RetrievalResult) -> bool:
        return bool(result.hits) and result.dense_best >= self.min_dense


class Answerer:
    """Answers a question from the index, or from a selection of text.

    Contract: ``ask`` returns an ``Answer`` whose citations point at retrieved passages (or at
    the selection); ``grounded=False`` with a plain "can't find" answer and no citations when
    the documents do not support one. Raises ``InvalidInput`` for an empty or oversized
    question and ``RetrievalError`` when search fails.
    """

    def __init__(
        self,
        retriever: HybridRetriever,
        generator: Generator,
        *,
        top_k: int = 5,
        policy: GroundingPolicy | None = None,
    ) -> None:
        self._retriever = retriever
        self._generator = generator
        self._top_k = top_k
        self._policy = policy or GroundingPolicy()

    @property
    def generator_name(self) -> str:
        return self._generator.name

    def ask(
        self,
        question: str,
        selected_text: str | None = None,
        *,
        retrieval_query: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer ``question``; ``retrieval_query`` (a follow-up made standalone) is searched.

        ``history`` (earlier turns, oldest first) is passed to the generator.
        """
        passages = self._passages(question, selected_text, retrieval_query)
        if passages is None:
            return Answer(NOT_FOUND, grounded=False, generator=self._generator.name)
        with observe_generation():
            return self._generator.generate(question.strip(), passages, history=history)

    def stream(
        self,
        question: str,
        selected_text: str | None = None,
        *,
        retrieval_query: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[StreamItem]:
        """``ask`` as a stream (see ``Generator.stream``).

        The question is checked and retrieval done before this returns, so ``InvalidInput``
        and ``RetrievalError`` are raised here, not while iterating.
        """
        passages = self._passages(question, selected_text, retrieval_query)
        if passages is None:
            return stream_finished(Answer(NOT_FOUND, grounded=False, generator=self.generator_name))
        return _timed(self._generator.stream(question.strip(), passages, history=history))

    def _passages(
        self, question: str, selected_text: str | None, retrieval_query: str | None
    ) -> list[ScoredChunk] | None:
        """What the answer may draw on (best first), or None when the documents do not hold one.

        With a selection, the selection alone: the reader asked about that text.
        """
        question = _checked(question, "question", MAX_QUESTION_CHARS)
        if selected_text is not None and selected_text.strip():
            return [_selection(_checked(selected_text, "selected_text", MAX_SELECTION_CHARS))]
        with observe_retrieval():
            result = self._retriever.retrieve(retrieval_query or question, self._top_k)
        return result.hits if self._policy.supports(result) else None


def _selection(text: str) -> ScoredChunk:
    chunk = Chunk(
        id="selection",
        document_id="",
        source=SELECTION_SOURCE,
        title="Selected text",
        section_path=(),
        anchor="",
        position=0,
        text=text,
    )
    return ScoredChunk(chunk, 1.0)


def _timed(items: Iterator[StreamItem]) -> Iterator[StreamItem]:
    with observe_generation():
        yield from items


def _checked(text: str, field: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters")
    return text
