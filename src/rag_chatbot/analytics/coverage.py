"""Coverage: what the documents hold on a question today — its nearest pages, and whether
they now answer it.

A gap's label question is searched as a reader's question is (``HybridRetriever``) and its
grounding scored as the answerer scores it (``EvidenceReader``, ``GroundingModel``), without
writing an answer. Its nearest pages say where to extend the documents; passing the grounding
check says that they now answer it (after a re-ingest, say). Results are kept per question and
index version: the same look costs nothing until a document changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from rag_chatbot.answering.grounding import EvidenceReader, GroundingModel
from rag_chatbot.domain import reader_url
from rag_chatbot.retrieval.hybrid import HybridRetriever

_KEPT = 2048


@dataclass(frozen=True)
class NearPage:
    """A document near a question: where its best passage is, linked into the reader."""

    source: str
    title: str
    section: str
    url: str
    score: float


@dataclass(frozen=True)
class Covered:
    answered: bool  # the documents pass the grounding check for it now
    confidence: float
    nearest: tuple[NearPage, ...]


class Coverage:
    """``look(question)`` → ``Covered``; ``version`` is the index's (``index_version``)."""

    def __init__(
        self,
        retriever: HybridRetriever,
        evidence: EvidenceReader,
        grounding: GroundingModel,
        version: Callable[[], str],
        *,
        top_k: int = 5,
        pages: int = 3,
    ) -> None:
        self._retriever = retriever
        self._evidence = evidence
        self._grounding = grounding
        self._version = version
        self._top_k = top_k
        self._pages = pages
        self._memo: OrderedDict[tuple[str, str], Covered] = OrderedDict()
        self._lock = threading.Lock()

    def version(self) -> str:
        return self._version()

    def look(self, question: str, version: str | None = None) -> Covered:
        """The question's nearest pages (up to three documents) and whether it grounds now."""
        key = (version or self._version(), question)
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        found = self._retriever.retrieve(question, self._top_k)
        evidence = self._evidence.read(question, found.hits, found.dense_scores)
        nearest: dict[str, NearPage] = {}
        for hit in found.hits:
            chunk = hit.chunk
            if chunk.source not in nearest and len(nearest) < self._pages:
                nearest[chunk.source] = NearPage(
                    chunk.source,
                    chunk.title,
                    chunk.section,
                    reader_url(chunk.source, chunk.anchor),
                    round(hit.score, 4),
                )
        covered = Covered(
            answered=bool(found.hits) and self._grounding.supports(evidence),
            confidence=round(self._grounding.confidence(evidence), 4) if found.hits else 0.0,
            nearest=tuple(nearest.values()),
        )
        with self._lock:
            self._memo[key] = covered
            while len(self._memo) > _KEPT:
                self._memo.popitem(last=False)
        return covered
