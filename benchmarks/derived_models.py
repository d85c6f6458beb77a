"""Passages per second of the shipped model and the two derived from it, and their agreement.

    python3 benchmarks/derived_models.py [--limit 400] [--words 150]

Passages: the docs-faq pages cut into ``--words``-word passages, ``--limit`` of them spread
over the corpus (``embedders.load_passages``). Each model embeds them twice after a warm-up;
the better run is printed (other processes share the CPUs), with the cosine of its vectors to
the shipped model's (lowest and mean). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from embedders import CORPUS, load_passages

from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder


def best_rate(embedder: OnnxMiniLMEmbedder, passages: list[str]) -> tuple[float, np.ndarray]:
    embedder.embed(passages[:32])
    best, vectors = 0.0, np.zeros(0)
    for _ in range(2):
        started = time.perf_counter()
        vectors = embedder.embed(passages)
        best = max(best, len(passages) / (time.perf_counter() - started))
    return best, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--words", type=int, default=150)
    args = parser.parse_args()
    passages = load_passages(CORPUS, args.words, args.limit)
    models = Path(tempfile.mkdtemp(prefix="rag-models-"))
    shipped_rate, shipped = best_rate(OnnxMiniLMEmbedder(), passages)
    print(f"{len(passages)} passages of {args.words} words")
    print(f"shipped float          {shipped_rate:6.1f} passages/s")
    for label, precision in (("lean float", "float"), ("integer (int8)", "int8")):
        embedder = OnnxMiniLMEmbedder(model_dir=models, precision=precision)  # type: ignore[arg-type]
        rate, vectors = best_rate(embedder, passages)
        cosines = np.einsum("ij,ij->i", vectors, shipped)
        print(
            f"{label:<22} {rate:6.1f} passages/s  {rate / shipped_rate:.2f}x  "
            f"cosine to shipped min {cosines.min():.4f} mean {cosines.mean():.4f}"
        )


if __name__ == "__main__":
    main()
