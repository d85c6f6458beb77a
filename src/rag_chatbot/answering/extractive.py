"""The extractive generator: answers by quoting the passages' best sentences, with [n] markers.

It needs no language model, so it runs offline on two cores, and it cannot invent anything:
every sentence of an answer is a sentence of a cited passage.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag_chatbot.answering.base import StreamItem, Turn, stream_finished
from rag_chatbot.answering.sentences import looks_like_heading, split_sentences
from rag_chatbot.domain import Answer, Citation, ScoredChunk
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.retrieval.lexical import LexicalEncoder

NOT_FOUND = "I can't find that in the documents."
# Weights of a sentence's score: meaning, shared terms, the rank of its passage.
_SEMANTIC, _LEXICAL, _PASSAGE = 0.55, 0.25, 0.20
_SCORED_CHARS = 200


@dataclass(frozen=True)
class _Candidate:
    passage: int
    position: int
    text: str
    score: float


class ExtractiveGenerator:
    """Picks the sentences that best answer the question from the top passages.

    ``passages_used`` passages are read; at most ``max_sentences`` sentences are quoted, at most
    two from one passage, keeping each passage's own order. Sentences are scored by the
    question's words they share and their passage's rank; meanings are compared (up to
    ``max_embedded`` sentences embedded) only when no sentence shares a word. A sentence is kept
    when it scores at least ``keep_ratio`` of the best one. When no sentence is about the
    question (no shared word and similarity under ``min_similarity``) the answer is ungrounded.
    """

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        lexical: LexicalEncoder,
        *,
        passages_used: int = 4,
        max_sentences: int = 3,
        keep_ratio: float = 0.8,
        min_similarity: float = 0.25,
        max_embedded: int = 16,
    ) -> None:
        self._embedder = embedder
        self._lexical = lexical
        self._passages_used = passages_used
        self._max_sentences = max_sentences
        self._keep_ratio = keep_ratio
        self._min_similarity = min_similarity
        self._max_embedded = max_embedded

    def generate(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Answer:
        """Quote ``passages``; ``history`` is not used (retrieval already had it)."""
        passages = list(passages[: self._passages_used])
        candidates = self._score(question, passages)
        if not candidates:
            return Answer(NOT_FOUND, grounded=False, generator=self.name)
        chosen = self._choose(candidates)
        return self._compose(chosen, passages)

    def stream(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Iterator[StreamItem]:
        return stream_finished(self.generate(question, passages))

    def _score(self, question: str, passages: list[ScoredChunk]) -> list[_Candidate]:
        """Candidate sentences with scores.

        Sentences sharing words with the question are scored by those words and their
        passage's rank: measured on docs-faq this picks as well as comparing meanings and is
        seven times cheaper. Only when no sentence shares a word are meanings compared (the
        model embeds up to ``max_embedded`` sentences).
        """
        query_terms = self._lexical.query_terms(question)
        units = [
            (i, j, text, query_terms & self._lexical.query_terms(text))
            for i, p in enumerate(passages)
            for j, text in enumerate(split_sentences(p.chunk.text))
            if len(text.split()) >= 3 and not looks_like_heading(text)
        ]
        sharing = [u for u in units if u[3]]
        if sharing:
            semantic = np.zeros(len(sharing), dtype=np.float32)
            units = sharing
        else:
            units = units[: self._max_embedded]
            semantic = self._semantic(question, [u[2] for u in units])
        best_passage = max(p.score for p in passages) or 1.0
        out = []
        for (i, j, text, shared), sem in zip(units, semantic, strict=True):
            if sem < self._min_similarity and not shared:
                continue
            lex = len(shared) / len(query_terms) if query_terms else 0.0
            score = (
                _SEMANTIC * float(sem)
                + _LEXICAL * lex
                + _PASSAGE * passages[i].score / best_passage
            )
            out.append(_Candidate(i, j, text, score))
        return out

    def _semantic(self, question: str, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        # A sentence's opening carries its meaning; cutting long ones keeps the batch short.
        vectors = self._embedder.embed([question, *(t[:_SCORED_CHARS] for t in texts)])
        similarity: npt.NDArray[np.float32] = vectors[1:] @ vectors[0]
        return similarity

    def _choose(self, candidates: list[_Candidate]) -> list[_Candidate]:
        ranked = sorted(candidates, key=lambda c: (-c.score, c.passage, c.position))
        floor = ranked[0].score * self._keep_ratio
        chosen: list[_Candidate] = []
        per_passage: dict[int, int] = {}
        for cand in ranked:
            if len(chosen) == self._max_sentences or cand.score < floor:
                break
            if per_passage.get(cand.passage, 0) >= 2 or _repeats(cand, chosen):
                continue
            chosen.append(cand)
            per_passage[cand.passage] = per_passage.get(cand.passage, 0) + 1
        return chosen

    def _compose(self, chosen: list[_Candidate], passages: list[ScoredChunk]) -> Answer:
        # Passages are cited in the order of their best sentence; sentences read in text order.
        order = list(dict.fromkeys(c.passage for c in chosen))
        parts: list[str] = []
        citations: list[Citation] = []
        for n, passage_index in enumerate(order, start=1):
            mine = sorted(
                (c for c in chosen if c.passage == passage_index), key=lambda c: c.position
            )
            chunk = passages[passage_index].chunk
            parts.append(" ".join(_as_prose(c.text) for c in mine) + f" [{n}]")
            citations.append(
                Citation(
                    n=n,
                    source=chunk.source,
                    title=chunk.title,
                    section=chunk.section,
                    url=chunk.url,
                    quote=" … ".join(c.text for c in mine),
                    score=round(passages[passage_index].score, 4),
                )
            )
        return Answer(
            "\n\n".join(parts), grounded=True, citations=tuple(citations), generator=self.name
        )


def _repeats(candidate: _Candidate, chosen: list[_Candidate]) -> bool:
    words = set(candidate.text.lower().split())
    for other in chosen:
        theirs = set(other.text.lower().split())
        if len(words & theirs) >= 0.8 * min(len(words), len(theirs)):
            return True
    return False


def _as_prose(sentence: str) -> str:
    """Keep code and tables on their own lines inside the answer."""
    return f"\n{sentence}\n" if "\n" in sentence else sentence
