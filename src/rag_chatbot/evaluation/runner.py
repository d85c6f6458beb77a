"""``rag-chatbot eval``: run a docs-faq style benchmark against what is ingested."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.errors import InvalidInput
from rag_chatbot.evaluation.metrics import mean, ndcg_at, recall_at, reciprocal_rank, token_f1
from rag_chatbot.retrieval.fusion import aggregate
from rag_chatbot.retrieval.hybrid import HybridRetriever

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
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            queries.append(
                Query(
                    str(obj["id"]),
                    str(obj["question"]),
                    frozenset(obj.get("relevant", [])),
                    str(obj.get("answer", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{number}: not a benchmark query ({exc})") from exc
    return queries


def rank_pages(retriever: HybridRetriever, question: str) -> list[str]:
    """Pages ranked by their best chunk among the fused candidates."""
    hits = retriever.retrieve(question, PAGE_CANDIDATES).hits
    return [source for source, _, _ in aggregate(hits, key=lambda h: h.chunk.source)]


def evaluate(
    queries: list[Query], retriever: HybridRetriever, answerer: Answerer
) -> dict[str, object]:
    """Per-query results and their means: retrieval at page level, then answers."""
    rows = []
    for q in queries:
        pages = rank_pages(retriever, q.question)
        answer = answerer.ask(q.question)
        cited = {c.source for c in answer.citations}
        rows.append(
            {
                "id": q.id,
                "recall@5": recall_at(pages, q.relevant, 5),
                "recall@10": recall_at(pages, q.relevant, 10),
                "mrr@10": reciprocal_rank(pages, q.relevant, 10),
                "ndcg@10": ndcg_at(pages, q.relevant, 10),
                "grounded": answer.grounded,
                "citation_hit": bool(cited & q.relevant) if answer.grounded else None,
                "token_f1": token_f1(answer.answer, q.answer) if q.answer else None,
                "top_pages": pages[:5],
            }
        )
    return {"metrics": summarize(rows), "queries": rows}


def summarize(rows: list[dict[str, object]]) -> dict[str, float]:
    def values(key: str) -> list[float]:
        return [float(r[key]) for r in rows if r[key] is not None]  # type: ignore[arg-type]

    grounded = [r for r in rows if r["grounded"]]
    return {
        "queries": float(len(rows)),
        "recall@5": mean(values("recall@5")),
        "recall@10": mean(values("recall@10")),
        "mrr@10": mean(values("mrr@10")),
        "ndcg@10": mean(values("ndcg@10")),
        "citation_hit_rate": mean([float(bool(r["citation_hit"])) for r in grounded]),
        "abstention_rate": 1.0 - len(grounded) / len(rows) if rows else 0.0,
        "token_f1": mean(values("token_f1")),
    }
