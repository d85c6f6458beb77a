"""Which sentences of the ranked passages answer the question, scored for an extractive answer.

A sentence's score mixes three things:

- its **meaning** against the question's (cosine of the embedding model's vectors). Words alone
  mislead: a code comment or an option list can share every word of "How do I get a file's
  extension?" and say nothing about it, while "returns the extension of the path" shares one.
- the question's **words** it shares, rare words counting more (``rare``: names and terms).
- its **passage's rank**: the ranking already weighed the whole passage, its title and section.

Only the sentences of the first passages are weighed by meaning, at most ``max_embedded`` of
them, chosen by words and rank first: embedding them is most of an answer's CPU. Their vectors
are kept in a memo (``VectorMemo``), since readers keep asking about the same sections.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag_chatbot.answering.grounding import RareWords
from rag_chatbot.answering.sentences import Unit, split_units
from rag_chatbot.domain import ScoredChunk
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.embedders.memo import VectorMemo
from rag_chatbot.retrieval.lexical import LexicalEncoder

# Weights of a sentence's score: meaning, shared words, the rank of its passage.
SEMANTIC, LEXICAL, RANK = 0.6, 0.2, 0.2
# A sentence's opening carries its meaning; cutting long ones keeps the batch short.
SCORED_CHARS = 120
_HOW_TO = re.compile(
    r"^\s*(how (do|can|should|would) (i|you|we|one)|how to|what('s| is) the (command|syntax|way)"
    r"|(show|give) me (an? )?(example|command|code))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """A unit of passage ``passage`` (its index in rank order), at ``position`` in it."""

    passage: int
    position: int
    unit: Unit
    score: float
    semantic: float
    lexical: float


def asks_how(question: str) -> bool:
    """A "how do I" question: code and signatures answer it better than prose about them."""
    return bool(_HOW_TO.search(question))


class SentenceScorer:
    """Scores the units of ranked passages against a question (see the module)."""

    def __init__(
        self, embedder: Embedder, lexical: LexicalEncoder, *, max_embedded: int = 24
    ) -> None:
        self._embedder = embedder
        self._lexical = lexical
        self._rare = RareWords()
        self._max_embedded = max_embedded
        self.memo = VectorMemo()

    def score(self, question: str, passages: Sequence[ScoredChunk]) -> list[Candidate]:
        """Scored units of ``passages`` (best-ranked first), those not worth embedding left out."""
        weights = self._term_weights(question, self._rare.of(question))
        total = sum(weights.values()) or 1.0
        units = []
        for i, passage in enumerate(passages):
            for j, unit in enumerate(split_units(passage.chunk.text)):
                if unit.kind == "heading" or (unit.kind == "prose" and len(unit.text.split()) < 3):
                    continue
                shared = self._lexical.query_terms(unit.text) & weights.keys()
                lexical = sum(weights[t] for t in shared) / total
                units.append((i, j, unit, lexical, _rank_prior(i, passage, passages[0])))
        if not units:
            return []
        # The cheap part of the score picks what is worth embedding.
        units.sort(key=lambda u: -(LEXICAL * u[3] + RANK * u[4]))
        units = units[: self._max_embedded]
        semantic = self._semantic(question, [u[2] for u in units])
        return [
            Candidate(
                i, j, unit, SEMANTIC * float(sem) + LEXICAL * lex + RANK * prior, float(sem), lex
            )
            for (i, j, unit, lex, prior), sem in zip(units, semantic, strict=True)
        ]

    def _term_weights(self, question: str, rare: Sequence[str]) -> dict[int, float]:
        """Each term of the question, weighing three times as much when it is a rare word's."""
        weights = dict.fromkeys(self._lexical.query_terms(question), 1.0)
        for word in rare:
            for term in self._lexical.query_terms(word):
                if term in weights:
                    weights[term] = 3.0
        return weights

    def _semantic(self, question: str, units: list[Unit]) -> npt.NDArray[np.float32]:
        texts = [_for_meaning(u) for u in units]
        vectors = np.stack(self.memo.embed([question, *texts], self._embedder.embed))
        similarity: npt.NDArray[np.float32] = vectors[1:] @ vectors[0]
        return similarity


def _rank_prior(index: int, passage: ScoredChunk, best: ScoredChunk) -> float:
    """1.0 for the best passage, less for each lower one and for a weaker fused score."""
    relative = passage.score / best.score if best.score > 0 else 0.0
    return relative / (1.0 + 0.25 * index)


def _for_meaning(unit: Unit) -> str:
    return unit.text[:SCORED_CHARS]
