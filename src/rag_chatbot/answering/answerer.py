"""The Answerer: retrieve, check grounding, generate — the path of a question."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from rag_chatbot.answering.base import Generator, StreamItem, Turn, stream_finished
from rag_chatbot.answering.extractive import NOT_FOUND
from rag_chatbot.answering.grounding import EvidenceReader, GroundingModel
from rag_chatbot.domain import Answer, Chunk, ScoredChunk
from rag_chatbot.errors import InvalidInput
from rag_chatbot.observability.metrics import observe_generation, observe_retrieval
from rag_chatbot.retrieval.hybrid import HybridRetriever

SELECTION_SOURCE = "selection"
MAX_QUESTION_CHARS = 2000
MAX_SELECTION_CHARS = 20000


@dataclass(frozen=True)
class _Found:
    """What an answer may draw on (best first), and how sure retrieval is that it answers."""

    passages: list[ScoredChunk]
    confidence: float | None
    supported: bool


class Answerer:
    """Answers a question from the index, or from a selection of text.

    Contract: ``ask`` returns an ``Answer`` whose citations point at retrieved passages (or at
    the selection); ``grounded=False`` with a plain "can't find" answer and no citations when
    the documents do not support one (``grounding``: its ``confidence`` under the model's
    threshold). ``confidence`` is set on every answer from the index, None for a selection.
    Raises ``InvalidInput`` for an empty or oversized question and ``RetrievalError`` when
    search fails.
    """

    def __init__(
        self,
        retriever: HybridRetriever,
        generator: Generator,
        evidence: EvidenceReader,
        *,
        top_k: int = 5,
        grounding: GroundingModel | None = None,
    ) -> None:
        self._retriever = retriever
        self._generator = generator
        self._evidence = evidence
        self._top_k = top_k
        self._grounding = grounding or GroundingModel()

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
        found = self._passages(question, selected_text, retrieval_query)
        if not found.supported:
            return self._declined(found)
        with observe_generation():
            answer = self._generator.generate(question.strip(), found.passages, history=history)
        return replace(answer, confidence=found.confidence)

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
        found = self._passages(question, selected_text, retrieval_query)
        if not found.supported:
            return stream_finished(self._declined(found))
        items = self._generator.stream(question.strip(), found.passages, history=history)
        return _timed(items, found.confidence)

    def _declined(self, found: _Found) -> Answer:
        return Answer(
            NOT_FOUND, grounded=False, generator=self.generator_name, confidence=found.confidence
        )

    def _passages(
        self, question: str, selected_text: str | None, retrieval_query: str | None
    ) -> _Found:
        """The passages to answer from, and whether they support an answer.

        With a selection, the selection alone: the reader asked about that text.
        """
        question = _checked(question, "question", MAX_QUESTION_CHARS)
        if selected_text is not None and selected_text.strip():
            text = _checked(selected_text, "selected_text", MAX_SELECTION_CHARS)
            return _Found([_selection(text)], None, supported=True)
        query = retrieval_query or question
        with observe_retrieval():
            result = self._retriever.retrieve(query, self._top_k)
            evidence = self._evidence.read(query, result.hits, result.dense_scores)
        if not result.hits:
            return _Found([], 0.0, supported=False)
        confidence = round(self._grounding.confidence(evidence), 4)
        return _Found(result.hits, confidence, self._grounding.supports(evidence))


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


def _timed(items: Iterator[StreamItem], confidence: float | None) -> Iterator[StreamItem]:
    with observe_generation():
        for item in items:
            yield replace(item, confidence=confidence) if isinstance(item, Answer) else item


def _checked(text: str, field: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters")
    return text
