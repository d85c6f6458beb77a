"""A yardstick for the machine a benchmark runs on, printed beside its figures.

    python benchmarks/machine.py

The machines benchmarks run on differ: the same code ingested docs-faq in 510.9 s on one
and in 262.4 s on another. A figure without the machine's speed cannot be compared with
another machine's, so ``load.py`` and ``retrieval.py`` print this line first. Two fixed
workloads on one core, each the best of five rounds (the least disturbed by anything else
running):

- python: a pure-Python loop, what the HTTP stack and retrieval's glue are made of;
- question: one question embedded by the integer query model, an answer's largest step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rag_chatbot.providers.embedders.derived import default_cache_dir
from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

ROUNDS = 5
QUESTION = "How do I create an AUTOINCREMENT field?"


def best_of(rounds: int, calls: int, work: Callable[[], object]) -> float:
    """The fastest round's seconds per call of ``work``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def _python_loop() -> int:
    total = 0
    for i in range(200_000):
        total += i * i % 7
    return total


def yardstick() -> str:
    """``machine: python loop X ms, question embedding Y ms (best of 5, one core)``."""
    embedder = OnnxMiniLMEmbedder(threads=1, model_dir=default_cache_dir())
    embedder.embed_queries([QUESTION])  # warm: the first call allocates
    python_ms = 1000 * best_of(ROUNDS, 5, _python_loop)
    question_ms = 1000 * best_of(ROUNDS, 100, lambda: embedder.embed_queries([QUESTION]))
    return (
        f"machine: python loop {python_ms:.1f} ms, question embedding {question_ms:.2f} ms "
        f"(best of {ROUNDS}, one core)"
    )


if __name__ == "__main__":
    print(yardstick())
