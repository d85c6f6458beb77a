"""Whether the documents answer a question: one calibrated score from what retrieval measured.

Three measurements go in (``Evidence``):

- **dense**: the best passage's cosine similarity to the question. High for passages about the
  question's subject, but a question about PostgreSQL's settings is also "about databases" to
  a SQLite manual, so it cannot tell near-topic questions apart on its own.
- **coverage**: the share of the question's rare words (names, identifiers, technical terms)
  that the top passages contain. Which words are rare is read off the embedding model's
  vocabulary: a word it holds whole is common English ("create", "branch"), one it has to
  break into pieces is a name or a term ("autoincrement", "webpack", ``shared_buffers``). A
  question whose subject word appears in none of the passages found is about something else.
- **margin**: how far the best passage stands above the fifth (dense cosine). Questions the
  documents answer usually have a passage that stands out; others match many passages weakly.

``confidence`` is a logistic function of the three, its weights fitted on labelled questions
(answerable and not, on three corpora) by ``benchmarks/grounding.py``, which also prints how
many of each the threshold keeps. The answer reports it; below ``threshold`` the answer is
"I can't find that in the documents."
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag_chatbot.domain import ScoredChunk
from rag_chatbot.retrieval.lexical import LexicalEncoder

# Words of a question: identifiers keep their dots, dashes and underscores (user.name,
# shared_buffers, path.extname); a trailing full stop is not part of a word.
_WORD = re.compile(r"[A-Za-z][\w+#]*(?:[.\-/:]+[\w+#]+)*")
_IDENTIFIER = re.compile(r"[._/:]|[a-z][A-Z]")
_NOT_WORD = re.compile(r"[\W_]+")
_SUFFIXES = ("s", "es", "ed", "ing", "d")
# Passages whose text is read for coverage: those an answer quotes from.
COVERAGE_PASSAGES = 5
MARGIN_RANK = 5


@dataclass(frozen=True)
class Evidence:
    """What retrieval measured for one question (see the module)."""

    dense: float
    coverage: float
    margin: float
    rare_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroundingModel:
    """``confidence = sigmoid(bias + w_dense * dense + w_coverage * coverage + w_margin * margin)``.

    The weights come from ``benchmarks/grounding.py --fit`` (logistic regression on 80
    answerable and 86 unanswerable questions over three corpora: docs-faq, this project's
    docs, the Node.js API manual; see docs/benchmarks.md), rounded. ``threshold`` is the
    confidence below which an answer is declined: the highest of the swept thresholds that
    keeps nine in ten answerable questions answered on every one of those corpora.
    """

    bias: float = -6.7
    w_dense: float = 9.6
    w_coverage: float = 3.5
    w_margin: float = 1.5
    threshold: float = 0.6

    def confidence(self, evidence: Evidence) -> float:
        z = (
            self.bias
            + self.w_dense * evidence.dense
            + self.w_coverage * evidence.coverage
            + self.w_margin * evidence.margin
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def supports(self, evidence: Evidence) -> bool:
        return self.confidence(evidence) >= self.threshold


class RareWords:
    """The names, identifiers and terms of a text: words not common English (see the module)."""

    def __init__(self, common_words: frozenset[str] | None = None) -> None:
        self._common = common_words if common_words is not None else model_vocabulary()

    def of(self, text: str) -> tuple[str, ...]:
        """The rare words of ``text``, in order, without repeats."""
        found: dict[str, None] = {}
        for word in _WORD.findall(text):
            if _IDENTIFIER.search(word) or not self._is_common(word.lower()):
                found.setdefault(word, None)
        return tuple(found)

    def _is_common(self, word: str) -> bool:
        if "-" in word:  # off-topic, built-in: common when each part is
            return all(self._is_common(part) for part in word.split("-") if part)
        if word in self._common:
            return True
        return len(word) > 4 and any(
            word.endswith(s) and word[: -len(s)] in self._common for s in _SUFFIXES
        )


class EvidenceReader:
    """Measures ``Evidence`` for a question from its ranked passages and their dense scores."""

    def __init__(self, lexical: LexicalEncoder, rare: RareWords | None = None) -> None:
        self._lexical = lexical
        self._rare = rare or RareWords()

    def read(
        self, question: str, passages: Sequence[ScoredChunk], dense_scores: Sequence[float]
    ) -> Evidence:
        """``dense_scores``: the dense cosine of the best passages, best first."""
        if not dense_scores:
            return Evidence(0.0, 0.0, 0.0)
        ranked = sorted(dense_scores, reverse=True)
        tail = ranked[min(MARGIN_RANK, len(ranked)) - 1]
        rare = self._rare.of(question)
        return Evidence(
            dense=ranked[0],
            coverage=self._coverage(rare, passages[:COVERAGE_PASSAGES]),
            margin=ranked[0] - tail,
            rare_words=rare,
        )

    def _coverage(self, rare: Iterable[str], passages: Sequence[ScoredChunk]) -> float:
        words = list(rare)
        if not words:
            return 1.0
        terms: set[int] = set()
        for passage in passages:
            terms |= self._lexical.query_terms(passage.chunk.text)
        found = sum(1 for word in words if self._held(word, terms))
        return found / len(words)

    def _held(self, word: str, terms: set[int]) -> bool:
        """Whether passages with ``terms`` hold ``word``.

        An identifier (``user.name``, ``splitChunks``) is held written whole or joined, not as
        its parts apart: ``user`` and ``email`` are not ``user.email``. A hyphenated word
        (``SHA-256``, ``gzip-compress``) is held joined (``sha256``) or as its parts.
        """
        parts = self._lexical.query_terms(word)
        joined = self._lexical.query_terms(_NOT_WORD.sub("", word))
        whole = bool(joined) and joined <= terms
        if _IDENTIFIER.search(word) and len(parts) > 1:
            return whole
        return whole or (bool(parts) and parts <= terms)


@lru_cache(maxsize=1)
def model_vocabulary() -> frozenset[str]:
    """Whole words of the embedding model's vocabulary (its word pieces and marks left out)."""
    from rag_chatbot.providers.embedders.onnx import load_tokenizer

    vocabulary = load_tokenizer(truncate=False).get_vocab()
    return frozenset(w for w in vocabulary if w.isalpha() and w.isascii())
