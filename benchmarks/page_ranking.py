"""Page-ranking hypotheses that did not beat the default, measured on an existing index.

    python benchmarks/page_ranking.py --data-dir DIR [--queries FILE]

DIR must hold the docs-faq corpus (e.g. the data dir `benchmarks/retrieval.py` printed). Every
rule starts from the same candidates as the default retriever (dense and lexical top 50, each
scored over their union) and prints page recall@10, MRR@10 and nDCG@10. Each rule was written
down from a failure seen in the per-question ranks, then measured once; none was tuned:

- dense only, for reference: the dense scores of the same candidates;
- default: score fusion (lexical weight 0.1), pages ranked by their best passage, a page with
  the same content as one ranked above it left out (the retriever's ``first_copies``);
- the same with every copy listed (the default until 2026-11-24);
- page-level fusion: each retriever ranks pages by its own best passage, then the page scores
  are fused (a page's dense and lexical evidence may come from different passages);
- passage-count correction: a page of n passages has n chances to hold a good one by luck
  (`requirements.html` has 2,039), so pages are ranked by (rank of their best passage) times n,
  the Bonferroni bound on the chance of doing that well with no relevant passage;
- lead passage: what a page is about is said in its first passage (a man page's NAME line), so
  a page scores its best passage plus its first one;
- identifiers: the word-piece model splits `SQLITE_SCHEMA` or `user.name` into fragments, so
  a query holding such a token gives the lexical list an equal vote (weight 1, not 0.1).
- in-link prior: a manual's reference pages are the ones its other pages link to (`pragma.html`
  from 76 pages), and the questions that miss ask about such pages in other words. A page gets
  0.05 x log(1 + pages linking to it) / log(1 + the most any page of its folder gets), added to
  its best passage. Links found on more than half of a folder's pages are navigation and do not
  count. (0.05: half the largest lift the lexical side can give a passage.)
"""

from __future__ import annotations

import argparse
import math
import posixpath
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from _rules import Ranked, fuse_scores, search_dense, search_sparse

from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.domain import ScoredChunk
from rag_chatbot.evaluation.metrics import mean, ndcg_at, recall_at, reciprocal_rank
from rag_chatbot.evaluation.runner import Query, read_queries
from rag_chatbot.ingestion.chunking import chunk_id_for
from rag_chatbot.ingestion.loaders.html import parse_html
from rag_chatbot.retrieval.fusion import aggregate, first_copies

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"
LEXICAL_WEIGHT = 0.1  # the default retriever's
IDENTIFIER = re.compile(r"(?<![\w.])(?:--[A-Za-z][\w-]*|[A-Za-z]\w*(?:[_.][A-Za-z]\w*)+_?|\w+_)")


class Candidates:
    """One question's dense and lexical hits, each scored over the union (and extra ids)."""

    def __init__(self, container: Container, question: str, extra: Callable[[set[str]], set[str]]):
        store, vector = container.store, container.embedder.embed_queries([question])[0].tolist()
        sparse = container.lexical.encode_query(question)
        self.dense, self.lexical = search_dense(store, vector, 50), search_sparse(store, sparse, 50)
        pages = {h.chunk.source for h in self.dense + self.lexical}
        wanted = {h.chunk.id for h in self.dense + self.lexical} | extra(pages)
        self.dense += search_dense(store, vector, 50, within=wanted - _ids(self.dense))
        self.lexical += search_sparse(store, sparse, 50, within=wanted - _ids(self.lexical))

    def fused(self, lexical_weight: float = LEXICAL_WEIGHT) -> list[ScoredChunk]:
        return fuse_scores([Ranked(self.dense, 1.0), Ranked(self.lexical, lexical_weight)])


def _ids(hits: list[ScoredChunk]) -> set[str]:
    return {h.chunk.id for h in hits}


def _best(hits: list[ScoredChunk]) -> dict[str, float]:
    best: dict[str, float] = {}
    for hit in hits:
        best[hit.chunk.source] = max(best.get(hit.chunk.source, 0.0), hit.score)
    return best


def _ranked(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda page: (-scores[page], page))


def dense_only(c: Candidates, q: Query) -> list[str]:
    ranked = sorted(c.dense, key=lambda h: -h.score)
    return [page for page, _, _ in aggregate(ranked, key=lambda h: h.chunk.source)]


def default(c: Candidates, q: Query) -> list[str]:
    return [page for page, _, _ in aggregate(c.fused(), key=lambda h: h.chunk.source)]


def page_level_fusion(c: Candidates, q: Query) -> list[str]:
    dense, lexical = _best(c.dense), _best(c.lexical)
    top_d, top_l = max(dense.values()), max(lexical.values(), default=1.0) or 1.0
    pages = set(dense) | set(lexical)
    return _ranked(
        {p: dense.get(p, 0) / top_d + LEXICAL_WEIGHT * lexical.get(p, 0) / top_l for p in pages}
    )


def identifiers(c: Candidates, q: Query) -> list[str]:
    weight = 1.0 if IDENTIFIER.search(q.question) else LEXICAL_WEIGHT
    return [page for page, _, _ in aggregate(c.fused(weight), key=lambda h: h.chunk.source)]


Metrics = tuple[float, float, float]


def page_metrics(pages: list[str], q: Query) -> Metrics:
    """Page recall@10, MRR@10 and nDCG@10 of one question's ranking."""
    return (
        recall_at(pages, q.relevant, 10),
        reciprocal_rank(pages, q.relevant, 10),
        ndcg_at(pages, q.relevant, 10),
    )


def print_table(kind: str, results: dict[str, list[Metrics]]) -> None:
    """Each rule's metrics, averaged over the questions."""
    print(f"{kind}: recall@10, MRR@10, nDCG@10")
    for name, rows in results.items():
        r10, mrr, ndcg = (mean([row[i] for row in rows]) for i in range(3))
        print(f"  {r10:.3f}  {mrr:.3f}  {ndcg:.3f}  {name}")


def _top_folder(source: str) -> str:
    """The corpus folder a page belongs to (``sqlite``, ``git``); "" for a top-level file."""
    return source.split("/")[0] if "/" in source else ""


def in_links(corpus: Path) -> dict[str, float]:
    """Each page's in-link prior: log(1 + linking pages) over its folder's largest, 0 to 1."""
    linked_from: Counter[str] = Counter()
    pages_in: Counter[str] = Counter()
    for path in corpus.rglob("*.htm*"):
        source = path.relative_to(corpus).as_posix()
        pages_in[_top_folder(source)] += 1
        soup = parse_html(path.read_bytes())
        targets = set()
        for anchor in soup.find_all("a", href=True):
            href = str(anchor["href"]).split("#")[0]
            if href and ":" not in href:
                targets.add(posixpath.normpath(posixpath.join(posixpath.dirname(source), href)))
        linked_from.update(targets - {source})
    count = {page: n for page, n in linked_from.items() if n <= pages_in[_top_folder(page)] / 2}
    most: dict[str, int] = {}
    for page, n in count.items():
        folder = _top_folder(page)
        most[folder] = max(most.get(folder, 0), n)
    return {page: math.log1p(n) / math.log1p(most[_top_folder(page)]) for page, n in count.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus", help="for in-links")
    args = parser.parse_args()
    prior = in_links(args.corpus)
    container = build_container(Settings(data_dir=args.data_dir))  # type: ignore[call-arg]
    documents = container.repository.list_documents(status="completed")
    passages = {d.source: d.chunk_count for d in documents}
    lead = {d.source: chunk_id_for(d.id, d.content_hash, 0) for d in documents}

    def passage_count(c: Candidates, q: Query) -> list[str]:
        first_rank: dict[str, int] = {}
        for rank, hit in enumerate(c.fused(), start=1):
            first_rank.setdefault(hit.chunk.source, rank)
        return sorted(first_rank, key=lambda p: (first_rank[p] * passages[p], first_rank[p]))

    def lead_passage(c: Candidates, q: Query) -> list[str]:
        fused = c.fused()
        score = {h.chunk.id: h.score for h in fused}
        best = _best(fused)
        return _ranked({p: s + score.get(lead[p], 0.0) for p, s in best.items()})

    content = {d.source: d.content_hash for d in documents}

    def one_copy(pages: list[str]) -> list[str]:
        """The retriever's rule (``fusion.first_copies``) applied to pages."""
        owners = {page: (page, content[page]) for page in pages}
        return [page for page, _ in first_copies([(page, 0.0) for page in pages], owners)]

    rules: dict[str, Callable[[Candidates, Query], list[str]]] = {
        "dense only, over the same candidates": lambda c, q: one_copy(dense_only(c, q)),
        "default (fused passages, best per page, identical pages once)": lambda c, q: one_copy(
            default(c, q)
        ),
        "the same, identical pages each listed": default,
        "page-level fusion": lambda c, q: one_copy(page_level_fusion(c, q)),
        "passage-count correction (Bonferroni)": lambda c, q: one_copy(passage_count(c, q)),
        "best passage + lead passage": lambda c, q: one_copy(lead_passage(c, q)),
        "identifiers give lexical an equal vote": lambda c, q: one_copy(identifiers(c, q)),
        "in-link prior (0.05 at most)": lambda c, q: one_copy(
            _ranked({p: s + 0.05 * prior.get(p, 0.0) for p, s in _best(c.fused()).items()})
        ),
    }
    scores: dict[str, list[tuple[float, float, float]]] = {name: [] for name in rules}
    for q in read_queries(args.queries):
        plain = Candidates(container, q.question, lambda pages: set())
        with_leads = Candidates(container, q.question, lambda pages: {lead[p] for p in pages})
        for name, rule in rules.items():
            leads = name == "best passage + lead passage"
            pages = rule(with_leads if leads else plain, q)
            scores[name].append(page_metrics(pages, q))
    print_table("page rule", scores)
    container.close()


if __name__ == "__main__":
    main()
