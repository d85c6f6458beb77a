"""Passage-vector hypotheses that did not beat the default, measured on an existing index.

    python benchmarks/passage_context.py --data-dir DIR [--queries FILE]

DIR must hold the docs-faq corpus (e.g. the data dir `benchmarks/retrieval.py` printed). Each
rule embeds every passage again in another form with the passage model (about ten minutes per
rule for docs-faq on two cores), keeps those vectors in memory, and ranks pages as the default
retriever does: dense and lexical top 50, scored over their union, fused with lexical weight
0.1, a page scores its best passage, identical pages listed once. Each rule was written down
before it was measured, and measured once; none was tuned:

- sentence windows: a 200-piece passage mixes several points, and a question usually asks about
  one. Each passage is also cut into windows of at most 64 word pieces (at paragraph, line and
  sentence boundaries, as the chunker cuts) and each window is embedded with the passage's
  heading. A passage's dense score is the mean of its own cosine and its best window's, and
  the passages of the 50 best windows join the candidates. (The best window alone, or the
  better of passage and window, are printed for reference.)
- document context: a Git man page's title is a command name (`git-var(1)`), which says little
  to the model, while its first sentence says what the command is for ("git-var - Show a Git
  logical variable"). Every passage but the first is embedded with its document's first
  sentence (cut at 32 word pieces) after the title.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from page_ranking import SHARED, Metrics, page_metrics, print_table

from rag_chatbot.answering.sentences import split_sentences
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.domain import SECTION_SEPARATOR, Chunk
from rag_chatbot.evaluation.runner import Query, read_queries
from rag_chatbot.ingestion.chunking import split_text
from rag_chatbot.retrieval.fusion import first_copies, fuse_id_scores
from rag_chatbot.retrieval.scoring import complete_scores

CANDIDATES, LEXICAL_WEIGHT = 50, 0.1  # the default retriever's
WINDOW_TOKENS, CONTEXT_TOKENS = 64, 32

Scores = dict[str, float]
Matrix = npt.NDArray[np.float32]


def embed(container: Container, texts: list[str], label: str) -> Matrix:
    started = time.perf_counter()
    vectors = np.asarray(container.embedder.embed(texts), dtype=np.float32)
    print(f"{label}: {len(texts)} texts embedded in {time.perf_counter() - started:.0f} s")
    return vectors


def windows(container: Container, chunks: dict[str, Chunk]) -> tuple[list[str], Matrix]:
    """Each passage cut into windows, each embedded with the passage's heading; owner ids."""
    owners, texts = [], []
    for cid, chunk in chunks.items():
        for window in split_text(chunk.text, WINDOW_TOKENS, container.embedder.count_tokens):
            owners.append(cid)
            texts.append(f"{chunk.heading}\n{window}" if chunk.heading else window)
    return owners, embed(container, texts, "sentence windows")


def with_document_context(container: Container, chunks: dict[str, Chunk]) -> Matrix:
    """Every passage embedded with its document's first sentence after the title."""
    leads = {c.document_id: c for c in chunks.values() if c.position == 0}
    context = {}
    for document, lead in leads.items():
        sentences = split_sentences(lead.text)
        first = sentences[0] if sentences else ""
        context[document] = split_text(first, CONTEXT_TOKENS, container.embedder.count_tokens)
    texts = []
    for chunk in chunks.values():
        cut = context.get(chunk.document_id) or [""]
        parts = chunk.heading.split(SECTION_SEPARATOR) if chunk.heading else [chunk.title]
        if chunk.position and cut[0]:
            parts[0] = f"{parts[0]} — {cut[0]}"
        texts.append(f"{SECTION_SEPARATOR.join(parts)}\n{chunk.text}")
    return embed(container, texts, "document context")


class Ranker:
    """Pages ranked like the default retriever, from any dense scores of passages."""

    def __init__(self, container: Container, chunks: dict[str, Chunk]):
        self.container, self.chunks = container, chunks

    def pages(self, dense: Scores, lexical: Scores) -> list[str]:
        fused = fuse_id_scores(
            [(list(dense.items()), 1.0), (list(lexical.items()), LEXICAL_WEIGHT)]
        )
        owners = self.container.repository.owners(cid for cid, _ in fused)
        pages: list[str] = []
        for cid, _ in first_copies(fused, owners):
            if self.chunks[cid].source not in pages:
                pages.append(self.chunks[cid].source)
        return pages

    def lexical(self, question: str, among: Iterable[str]) -> Scores:
        wanted = set(among)
        sparse = self.container.lexical.encode_query(question)
        return dict(self.container.store.score_sparse(sparse, len(wanted), within=wanted))


def top(scores: npt.NDArray[np.float32], ids: list[str], limit: int) -> Scores:
    """The ``limit`` best owners of ``scores`` (an owner listed by its best row)."""
    best: Scores = {}
    for row in np.argsort(-scores):
        best.setdefault(ids[row], float(scores[row]))
        if len(best) == limit:
            break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    args = parser.parse_args()
    container = build_container(Settings(data_dir=args.data_dir))  # type: ignore[call-arg]
    store, ids = container.store, sorted(container.store.ids())
    chunks = store.chunks(ids)
    ranker = Ranker(container, chunks)
    window_owners, window_vectors = windows(container, chunks)
    owner_rows: dict[str, list[int]] = {}
    for row, cid in enumerate(window_owners):
        owner_rows.setdefault(cid, []).append(row)
    context_vectors = with_document_context(container, chunks)

    rules: dict[str, Callable[[Query, list[float]], list[str]]] = {}

    def default(q: Query, vector: list[float]) -> list[str]:
        sparse = container.lexical.encode_query(q.question)
        dense, lexical = complete_scores(store, vector, sparse, CANDIDATES)
        return ranker.pages(dict(dense), dict(lexical))

    def window_rule(combine: Callable[[float, float], float]) -> Callable[..., list[str]]:
        def rule(q: Query, vector: list[float]) -> list[str]:
            query = np.asarray(vector, dtype=np.float32)
            window_scores = window_vectors @ query
            dense, lexical = complete_scores(
                store, vector, container.lexical.encode_query(q.question), CANDIDATES
            )
            union = {cid for cid, _ in dense} | {cid for cid, _ in lexical}
            union |= set(top(window_scores, window_owners, CANDIDATES))
            own = dict(store.score_dense(vector, len(union), within=union))
            best = {cid: float(window_scores[owner_rows[cid]].max()) for cid in union}
            scores = {cid: combine(own.get(cid, 0.0), best[cid]) for cid in union}
            return ranker.pages(scores, ranker.lexical(q.question, union))

        return rule

    def context_rule(q: Query, vector: list[float]) -> list[str]:
        scores = context_vectors @ np.asarray(vector, dtype=np.float32)
        dense = top(scores, ids, CANDIDATES)
        sparse = container.lexical.encode_query(q.question)
        union = set(dense) | {cid for cid, _ in store.score_sparse(sparse, CANDIDATES)}
        row = {cid: i for i, cid in enumerate(ids)}
        dense = {cid: float(scores[row[cid]]) for cid in union}
        return ranker.pages(dense, ranker.lexical(q.question, union))

    rules["default (the retriever's rule, for reference)"] = default
    rules["sentence windows: mean of passage and best window"] = window_rule(
        lambda own, win: (own + win) / 2
    )
    rules["  for reference: best window alone"] = window_rule(lambda own, win: win)
    rules["  for reference: better of passage and window"] = window_rule(max)
    rules["document context: first sentence after the title"] = context_rule

    results: dict[str, list[Metrics]] = {name: [] for name in rules}
    for q in read_queries(args.queries):
        vector = container.embedder.embed_queries([q.question])[0].tolist()
        for name, rule in rules.items():
            results[name].append(page_metrics(rule(q, vector), q))
    print_table("passage rule", results)
    container.close()


if __name__ == "__main__":
    main()
