"""``rag-chatbot eval``: run a docs-faq style benchmark against what is ingested.

Beside retrieval (page recall, MRR, nDCG) and answer metrics, it shows how much of the
ranking's quality reaches the answer: ``citation_reach@5`` is the share of the questions with
a relevant page in the top five whose answer cites one of them (``recall@5`` is the ceiling
of the citation hit rate). With out-of-domain questions (``--ood``: questions the documents do
not answer, each ``near_topic`` or not), it reports how many are declined, beside the
in-domain questions declined by mistake (``false_abstentions``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.errors import InvalidInput
from rag_chatbot.evaluation.metrics import mean, ndcg_at, recall_at, reciprocal_rank, token_f1
from rag_chatbot.retrieval.fusion import aggregate
from rag_chatbot.retrieval.hybrid import HybridRetriever

T = TypeVar("T")

# Chunks retrieved per question before they are grouped into pages.
PAGE_CANDIDATES = 50


@dataclass(frozen=True)
class Query:
    id: str
    question: str
    relevant: frozenset[str]
    answer: str


def read_queries(path: Path) -> list[Query]:
    """Read one JSON object a line (``id``, ``question``, ``relevant``, ``answer``)."""
    return _json_lines(
        path,
        "a benchmark query",
        lambda obj, _: Query(
            str(obj["id"]),
            str(obj["question"]),
            frozenset(obj.get("relevant", [])),
            str(obj.get("answer", "")),
        ),
    )


@dataclass(frozen=True)
class OutOfDomain:
    id: str
    question: str
    near_topic: bool


def read_out_of_domain(path: Path) -> list[OutOfDomain]:
    """One JSON object a line: ``question``, and optionally ``id`` and ``near_topic``."""
    return _json_lines(
        path,
        "an out-of-domain question",
        lambda obj, number: OutOfDomain(
            str(obj.get("id", f"ood-{number}")),
            str(obj["question"]),
            bool(obj.get("near_topic", False)),
        ),
    )


def _json_lines(path: Path, what: str, make: Callable[[Any, int], T]) -> list[T]:
    """``make(object, line number)`` for each non-blank line; ``InvalidInput`` naming the line."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(make(json.loads(line), number))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"{path}:{number}: not {what} ({exc})") from exc
    return found


def rank_pages(retriever: HybridRetriever, question: str) -> list[str]:
    """Pages ranked by their best chunk among the fused candidates."""
    hits = retriever.retrieve(question, PAGE_CANDIDATES).hits
    return [source for source, _, _ in aggregate(hits, key=lambda h: h.chunk.source)]


def evaluate(
    queries: list[Query],
    retriever: HybridRetriever,
    answerer: Answerer,
    out_of_domain: list[OutOfDomain] | None = None,
) -> dict[str, object]:
    """Per-query results and their means: retrieval at page level, then answers."""
    rows = []
    for q in queries:
        pages = rank_pages(retriever, q.question)
        answer = answerer.ask(q.question)
        cited = sorted({c.source for c in answer.citations})
        rows.append(
            {
                "id": q.id,
                "question": q.question,
                "recall@5": recall_at(pages, q.relevant, 5),
                "recall@10": recall_at(pages, q.relevant, 10),
                "mrr@10": reciprocal_rank(pages, q.relevant, 10),
                "ndcg@10": ndcg_at(pages, q.relevant, 10),
                "grounded": answer.grounded,
                "citation_hit": bool(set(cited) & q.relevant) if answer.grounded else None,
                "token_f1": token_f1(answer.answer, q.answer) if q.answer else None,
                "cited": cited,
                "relevant": sorted(q.relevant),
                "top_pages": pages[:5],
            }
        )
    result: dict[str, object] = {"metrics": summarize(rows), "queries": rows}
    if out_of_domain is not None:
        ood_rows = []
        for o in out_of_domain:
            answer = answerer.ask(o.question)
            ood_rows.append(
                {
                    "id": o.id,
                    "question": o.question,
                    "near_topic": o.near_topic,
                    "grounded": answer.grounded,
                    "cited": sorted({c.source for c in answer.citations}),
                }
            )
        result["metrics"] = {**summarize(rows), **summarize_out_of_domain(ood_rows)}
        result["out_of_domain"] = ood_rows
    return result


def summarize(rows: list[dict[str, object]]) -> dict[str, float]:
    def values(key: str) -> list[float]:
        return [float(r[key]) for r in rows if r[key] is not None]  # type: ignore[arg-type]

    grounded = [r for r in rows if r["grounded"]]
    recalled = [r for r in rows if float(r["recall@5"]) > 0]  # type: ignore[arg-type]
    return {
        "queries": float(len(rows)),
        "recall@5": mean(values("recall@5")),
        "recall@10": mean(values("recall@10")),
        "mrr@10": mean(values("mrr@10")),
        "ndcg@10": mean(values("ndcg@10")),
        "citation_hit_rate": mean([float(bool(r["citation_hit"])) for r in grounded]),
        "citation_reach@5": mean([float(bool(r["citation_hit"])) for r in recalled]),
        "abstention_rate": 1.0 - len(grounded) / len(rows) if rows else 0.0,
        "false_abstentions": float(len(rows) - len(grounded)),
        "token_f1": mean(values("token_f1")),
    }


def summarize_out_of_domain(rows: list[dict[str, object]]) -> dict[str, float]:
    """Declined shares of the out-of-domain questions, all and near-topic only."""

    def declined(subset: list[dict[str, object]]) -> float:
        return mean([float(not r["grounded"]) for r in subset])

    return {
        "ood_questions": float(len(rows)),
        "ood_declined_rate": declined(rows),
        "ood_near_topic_declined_rate": declined([r for r in rows if r["near_topic"]]),
    }
