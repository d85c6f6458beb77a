"""Fusing rankings from several retrievers, and aggregating chunks to pages.

Why naive fusion loses to dense retrieval alone, measured on docs-faq (see docs/benchmarks.md):
1. Each retriever returns only its own top hits, and a passage missing from one list is fused
   as if that retriever had scored it zero. The two lists overlap little, so most fused scores
   are half-blind. The hybrid retriever therefore scores the union of both lists with both
   retrievers before fusing (worth about +0.05 nDCG@10 whatever the fusion rule).
2. Reciprocal-rank fusion gives rank 1 of every list the same weight. The lexical list is
   noisier than the dense one (long reference pages repeat common words in many chunks), so its
   mistakes are promoted as far as dense hits. Score fusion keeps how sure each retriever is:
   each list's scores are scaled by its own best score and the lexical side weighs less, so a
   weak word match contributes little while an exact rare term (an error code, an option name)
   still lifts a passage among semantically close ones.
The rules it was measured against (reciprocal-rank fusion, fusion of whole hits) are in
benchmarks/_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag_chatbot.domain import ScoredChunk


def fuse_id_scores(
    rankings: Sequence[tuple[Sequence[tuple[str, float]], float]],
) -> list[tuple[str, float]]:
    """Weighted sum of each list's scores divided by that list's best score.

    ``rankings`` holds, per retriever, its ``(chunk id, score)`` pairs and its weight. A chunk
    missing from a list gets 0 from it. Ties break by chunk id, so the result does not depend
    on the order of the inputs.
    """
    totals: dict[str, float] = {}
    for pairs, weight in rankings:
        best = max((score for _, score in pairs), default=0.0)
        if best <= 0:
            continue
        for cid, score in pairs:
            totals[cid] = totals.get(cid, 0.0) + weight * score / best
    order = sorted(totals, key=lambda cid: (-totals[cid], cid))
    return [(cid, totals[cid]) for cid in order]


def aggregate(
    hits: Sequence[ScoredChunk], key: Callable[[ScoredChunk], str]
) -> list[tuple[str, float, list[ScoredChunk]]]:
    """Group hits by ``key`` (a page, a section): score of a group is its best hit.

    Groups come best first, each with its hits in their original order.
    """
    groups: dict[str, list[ScoredChunk]] = {}
    for hit in hits:
        groups.setdefault(key(hit), []).append(hit)
    ranked = sorted(groups.items(), key=lambda kv: (-max(h.score for h in kv[1]), kv[0]))
    return [(name, max(h.score for h in members), members) for name, members in ranked]


def first_copies(
    ranked: Sequence[tuple[str, float]], owners: dict[str, tuple[str, str]]
) -> list[tuple[str, float]]:
    """``ranked`` without the chunks of a document identical to one ranked above it.

    ``owners`` maps each chunk id to its document's id and content hash. Two documents with
    the same hash hold the same text (``index.html`` and ``git.html`` of the Git manual, a
    page saved twice): the second copy would only repeat the first in the results and in an
    answer's passages, pushing a different page down.
    """
    first_of: dict[str, str] = {}
    kept = []
    for cid, score in ranked:
        document, digest = owners[cid]
        if first_of.setdefault(digest, document) == document:
            kept.append((cid, score))
    return kept
