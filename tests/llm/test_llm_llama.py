"""Our OpenAI provider end to end against a real llama.cpp server: stream, citations, fallback."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest
from llamaserver import CONTEXT_TOKENS, MODEL_ALIAS, LlamaServer

from rag_chatbot.answering.base import Restart, StreamItem
from rag_chatbot.answering.citations import rewrite_citations
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.fallback import FallbackGenerator
from rag_chatbot.answering.llm import LlmGenerator
from rag_chatbot.answering.prompting import PromptBudget
from rag_chatbot.domain import Answer, Chunk, ScoredChunk
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.generators.base import Message, RetryPolicy
from rag_chatbot.providers.generators.openai_compatible import OpenAIChatModel
from rag_chatbot.retrieval.lexical import LexicalEncoder

pytestmark = [pytest.mark.slow, pytest.mark.integration]

QUESTION = "How often is the Fresnel lens cleaned?"


def passage(n: int, section: str, text: str) -> ScoredChunk:
    chunk = Chunk(f"c{n}", "d", "lighthouse.md", "Lighthouses", (section,), f"s{n}", n, text)
    return ScoredChunk(chunk, 0.9 - n / 10)


PASSAGES = [
    passage(
        1,
        "Lamp maintenance",
        "The Fresnel lens is cleaned every morning with a soft cloth and alcohol [1], after "
        "the lamp is put out at dawn. Keepers log each cleaning [9].",
    ),
    passage(2, "Fog signals", "In fog, the horn sounds two blasts every sixty seconds [2]."),
]


class Recording:
    """A ``ChatModel`` that passes everything to ``inner`` and keeps the raw reply."""

    def __init__(self, inner: OpenAIChatModel) -> None:
        self._inner = inner
        self.name, self.model = inner.name, inner.model
        self.raw: list[str] = []

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str]:
        for piece in self._inner.stream(messages, max_tokens=max_tokens):
            self.raw.append(piece)
            yield piece

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        return self._inner.complete(messages, max_tokens=max_tokens)

    def check(self) -> None:
        self._inner.check()


def model(server: LlamaServer, **options: object) -> OpenAIChatModel:
    return OpenAIChatModel(
        MODEL_ALIAS,
        base_url=server.base_url,
        timeout=120,
        temperature=0.0,
        **options,  # type: ignore[arg-type]
    )


def budget(answer_tokens: int) -> PromptBudget:
    return PromptBudget(context_tokens=CONTEXT_TOKENS, answer_tokens=answer_tokens)


def assert_valid(answer: Answer) -> None:
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert numbers == set(range(1, len(answer.citations) + 1))
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert answer.grounded == bool(answer.citations)
    sections = {p.chunk.section for p in PASSAGES}
    assert all(c.section in sections for c in answer.citations)


def test_streams_tokens_and_validates_the_citations(llama_server: LlamaServer) -> None:
    recording = Recording(model(llama_server))
    items: list[StreamItem] = list(LlmGenerator(recording, budget(96)).stream(QUESTION, PASSAGES))
    pieces, answer = items[:-1], items[-1]
    assert isinstance(answer, Answer) and answer.generator == f"openai:{MODEL_ALIAS}"
    assert all(isinstance(p, str) for p in pieces)
    assert len(recording.raw) > 5  # the model's own tokens, as it wrote them
    assert "".join(str(p) for p in pieces) == answer.answer
    raw = "".join(recording.raw)
    # Greedy decoding: this base model copies the prompt, sources' markers included, so the
    # checks really renumber (and drop) markers the model wrote.
    assert re.search(r"\[\d+\]", raw)
    assert answer.answer == rewrite_citations(raw, len(PASSAGES))[0].strip()
    assert_valid(answer)
    if "[9]" in raw:  # the model copied the document's marker to no source
        assert "[9]" not in answer.answer


def test_non_streaming_answer_has_the_same_checks(llama_server: LlamaServer) -> None:
    answer = LlmGenerator(model(llama_server), budget(48)).generate(QUESTION, PASSAGES)
    assert answer.answer
    assert_valid(answer)


def test_server_killed_mid_answer_falls_back_to_the_extractive_answer(
    own_llama_server: LlamaServer, onnx_embedder: Embedder
) -> None:
    primary = LlmGenerator(model(own_llama_server, retry=RetryPolicy(retries=1)), budget(400))
    generator = FallbackGenerator(primary, ExtractiveGenerator(onnx_embedder, LexicalEncoder()))
    assert generator.status() == "healthy"
    stream = generator.stream(QUESTION, PASSAGES)
    first = next(stream)
    assert isinstance(first, str) and first
    own_llama_server.kill()
    rest = list(stream)
    restarts = [i for i, item in enumerate(rest) if isinstance(item, Restart)]
    assert len(restarts) == 1
    assert rest[restarts[0]] == Restart("openai failed mid-answer")
    after = rest[restarts[0] + 1 :]
    answer = after[-1]
    assert isinstance(answer, Answer)
    assert answer.generator == "extractive (fallback: openai failed mid-answer)"
    assert "".join(str(p) for p in after[:-1]) == answer.answer
    assert answer.grounded and answer.citations[0].section == "Lamp maintenance"
    assert generator.status() == "degraded"
