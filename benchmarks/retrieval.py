"""Ingest the docs-faq corpus into a fresh data dir and print speed and quality figures.

    python benchmarks/retrieval.py [--corpus DIR] [--queries FILE] [--data-dir DIR] [--repeat N]

Prints: ingest wall time and passages/s, time in the embedding model vs everything else,
re-ingest time of the unchanged corpus, search and ask latency p50/p95 over the questions
(warm), the eval metrics, page nDCG@10 of the retrieval variants that explain the fusion, and
peak RSS. With --data-dir pointing at an existing index the first ingest is skipped.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _rules import Ranked, fuse_reciprocal_rank, fuse_scores, search_dense, search_sparse
from machine import yardstick

from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.evaluation.metrics import mean, ndcg_at
from rag_chatbot.evaluation.runner import Query, evaluate, read_queries
from rag_chatbot.retrieval.fusion import aggregate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def variants(container: Container, queries: list[Query]) -> dict[str, float]:
    """Page nDCG@10 of single retrievers and fusion rules, without and with score completion."""
    store, embedder, lexical = container.store, container.embedder, container.lexical
    rules: dict[str, list[float]] = {}
    for q in queries:
        vector = embedder.embed_queries([q.question])[0].tolist()
        sparse = lexical.encode_query(q.question)
        dense, words = search_dense(store, vector, 50), search_sparse(store, sparse, 50)
        union = {h.chunk.id for h in dense} | {h.chunk.id for h in words}
        dense_all = dense + search_dense(
            store, vector, 50, within=union - {h.chunk.id for h in dense}
        )
        words_all = words + search_sparse(
            store, sparse, 50, within=union - {h.chunk.id for h in words}
        )
        candidates = {
            "dense only": dense,
            "lexical only (BM25, Qdrant IDF)": words,
            "RRF k=60, equal weights": fuse_reciprocal_rank([Ranked(dense, 1), Ranked(words, 1)]),
            "score fusion, lexical 0.1": fuse_scores([Ranked(dense, 1), Ranked(words, 0.1)]),
            "RRF k=60, union completed": fuse_reciprocal_rank(
                [Ranked(dense_all, 1), Ranked(words_all, 1)]
            ),
        }
        for weight in (0.05, 0.1, 0.2, 0.3, 0.5):
            candidates[f"score fusion, lexical {weight}, union completed"] = fuse_scores(
                [Ranked(dense_all, 1), Ranked(words_all, weight)]
            )
        for name, hits in candidates.items():
            pages = [s for s, _, _ in aggregate(hits, key=lambda h: h.chunk.source)]
            rules.setdefault(name, []).append(ndcg_at(pages, q.relevant, 10))
    return {name: mean(values) for name, values in rules.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per question")
    args = parser.parse_args()
    print(yardstick())

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="rag-bench-"))
    container = build_container(Settings(data_dir=data_dir))  # type: ignore[call-arg]
    queries = read_queries(args.queries)
    print(f"data dir: {data_dir}")

    first = container.pipeline.ingest_paths([args.corpus])
    if first.added:
        other = first.seconds - first.embedding_seconds
        print(
            f"ingest: {first.added} documents, {first.chunks} passages in {first.seconds:.1f} s "
            f"= {first.chunks / first.seconds:.1f} passages/s"
        )
        print(
            f"  embedding {first.embedding_seconds:.1f} s, everything else {other:.1f} s "
            f"(overhead beyond embedding {100 * other / first.embedding_seconds:.1f} %)"
        )
    again = container.pipeline.ingest_paths([args.corpus])
    print(f"re-ingest unchanged: {again.unchanged} documents in {again.seconds:.2f} s")

    for q in queries:  # warm: model, caches, HNSW pages
        container.retriever.retrieve(q.question, 5)
    search_ms: list[float] = []
    ask_ms: list[float] = []
    for q in queries:
        search_ms += timed(lambda q=q: container.retriever.retrieve(q.question, 5), args.repeat)
        ask_ms += timed(lambda q=q: container.answerer.ask(q.question), args.repeat)
    p50, p95 = statistics.median(search_ms), percentile(search_ms, 0.95)
    print(f"search: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(search_ms)} runs)")
    print(f"ask:    p50 {statistics.median(ask_ms):.1f} ms, p95 {percentile(ask_ms, 0.95):.1f} ms")

    metrics = evaluate(queries, container.retriever, container.answerer)["metrics"]
    print("eval:")
    for name, value in metrics.items():  # type: ignore[attr-defined]
        print(f"  {name:>18} {value:.3f}")
    print("page nDCG@10 by retrieval rule:")
    for name, value in variants(container, queries).items():
        print(f"  {value:.3f}  {name}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")
    container.close()


if __name__ == "__main__":
    main()
