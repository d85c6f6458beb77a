"""Retrieval and answer metrics (binary relevance, pages as the unit)."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence, Set


def recall_at(ranked: Sequence[str], relevant: Set[str], k: int) -> float:
    """Share of the relevant items found in the first ``k``."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: Set[str], k: int = 10) -> float:
    """1/rank of the first relevant item within ``k``, else 0."""
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: Set[str], k: int = 10) -> float:
    """Normalized discounted cumulative gain with binary gains."""
    dcg = sum(
        1.0 / math.log2(i + 1) for i, item in enumerate(ranked[:k], start=1) if item in relevant
    )
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def _tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return text.split()


# An answer's citation markers ("[1]") say where a sentence came from, not what it says.
_MARKERS = re.compile(r"\[\d+\]")


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1: lowercase, no punctuation or articles, bag-of-words overlap.

    Citation markers are not words of the answer: ``[1]`` would otherwise count as the token
    ``1``, one for each sentence quoted.
    """
    pred, ref = _tokens(_MARKERS.sub(" ", prediction)), _tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
