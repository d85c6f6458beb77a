"""Is a model's answer supported by the passages it cites? Checked sentence by sentence.

A language model can cite ``[2]`` after a sentence that passage 2 does not say, or write
claims with no citation at all. Each sentence that states something (four words or more) is
checked against the passages it cites — its own markers, or the next marker of its paragraph
when it has none ("X is so. Y follows from it [1]."). It is supported when the cited passages
hold most of its words (``min_shared`` of its terms, after stemming and stopwords), or when it
means what one of them says (cosine ``min_similarity``, for paraphrases). An answer with a
sentence that cites a passage not holding it, or with fewer than ``min_supported`` of its
sentences supported, is not supported: the generator falls back to the extractive answer. So is
an answer that cites nothing, unless it declines as the prompt tells the model to ("I can't
find that in the documents.").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag_chatbot.answering.sentences import split_sentences
from rag_chatbot.domain import Answer
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.retrieval.lexical import LexicalEncoder

_MARKER = re.compile(r"\[(\d+)\]")
_MIN_WORDS = 4


@dataclass(frozen=True)
class Verdict:
    supported: bool
    reason: str = ""


class UnsupportedAnswer(Exception):
    """A model's answer failed ``SupportCheck``: the fallback answers instead (``reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Claim:
    text: str
    cited: tuple[int, ...]  # citation numbers (1-based)
    marked: bool  # the sentence carries its own marker


class SupportCheck:
    """Checks an ``Answer`` against the full texts of the passages its citations name."""

    def __init__(
        self,
        lexical: LexicalEncoder,
        embedder: Embedder,
        *,
        min_shared: float = 0.5,
        min_similarity: float = 0.6,
        min_supported: float = 0.5,
    ) -> None:
        self._lexical = lexical
        self._embedder = embedder
        self._min_shared = min_shared
        self._min_similarity = min_similarity
        self._min_supported = min_supported

    def check(self, answer: Answer, texts: Sequence[str]) -> Verdict:
        """``texts[n-1]``: the full text of the passage citation ``n`` points at."""
        if not answer.grounded:
            # Declining as told is honest; anything else said without a source is not.
            if _declines(answer.answer) or not _claims(answer.answer):
                return Verdict(True)
            return Verdict(False, "the answer cites no source")
        claims = _claims(answer.answer)
        if not claims:
            return Verdict(True)
        unsupported = [c for c in claims if not self._supports(c, texts)]
        if any(c.marked for c in unsupported):
            return Verdict(False, "a cited passage does not say what the answer says")
        if len(claims) - len(unsupported) < self._min_supported * len(claims):
            return Verdict(False, "most of the answer is not in the cited passages")
        return Verdict(True)

    def _supports(self, claim: _Claim, texts: Sequence[str]) -> bool:
        sources = [texts[n - 1] for n in claim.cited if 1 <= n <= len(texts)]
        if not sources:
            return False
        terms = self._lexical.query_terms(_MARKER.sub("", claim.text))
        if not terms:
            return True
        held = set().union(*(self._lexical.query_terms(t) for t in sources))
        if len(terms & held) >= self._min_shared * len(terms):
            return True
        vectors = self._embedder.embed([claim.text, *(s[:1000] for s in sources)])
        return bool((vectors[1:] @ vectors[0]).max() >= self._min_similarity)


def _claims(text: str) -> list[_Claim]:
    """The answer's sentences that state something, with the citations they rest on."""
    claims: list[_Claim] = []
    for paragraph in re.split(r"\n\s*\n", text):
        sentences = split_sentences(paragraph)
        for i, sentence in enumerate(sentences):
            own = tuple(int(n) for n in _MARKER.findall(sentence))
            if len(_MARKER.sub("", sentence).split()) < _MIN_WORDS:
                continue
            cited = own or _next_marker(sentences[i + 1 :])
            claims.append(_Claim(sentence, cited, marked=bool(own)))
    return claims


def _declines(text: str) -> bool:
    normalized = " ".join(text.replace("\u2019", "'").lower().split())
    return "can't find that in the documents" in normalized


def _next_marker(rest: Sequence[str]) -> tuple[int, ...]:
    for sentence in rest:
        found = _MARKER.findall(sentence)
        if found:
            return tuple(int(n) for n in found)
    return ()
