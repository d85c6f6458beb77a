"""The fallback generator: which failure says what, and when the model counts as healthy again."""

from __future__ import annotations

import pytest
from standins import Reply, serve

from rag_chatbot.answering.base import Restart
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.fallback import FallbackGenerator
from rag_chatbot.answering.llm import LlmGenerator
from rag_chatbot.answering.support import SupportCheck
from rag_chatbot.domain import Answer, Chunk, ScoredChunk
from rag_chatbot.errors import ProviderError
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.embedders.hashing import HashingEmbedder
from rag_chatbot.providers.generators.base import RetryPolicy
from rag_chatbot.providers.generators.openai_compatible import OpenAIChatModel
from rag_chatbot.retrieval.lexical import LexicalEncoder

QUESTION = "How often is the Fresnel lens cleaned?"
CHUNK = Chunk(
    "c1", "d1", "lighthouse.md", "Lighthouses", ("Lamp maintenance",), "lamp", 0,
    "The Fresnel lens is cleaned every morning with a soft cloth.",
)  # fmt: skip
PASSAGES = [ScoredChunk(CHUNK, 0.8)]


def generator(base: str, timeout: float = 5.0) -> FallbackGenerator:
    model = OpenAIChatModel(
        "stand-in", base_url=f"{base}/v1", timeout=timeout, retry=RetryPolicy(retries=0)
    )
    extractive = ExtractiveGenerator(HashingEmbedder(), LexicalEncoder())
    return FallbackGenerator(LlmGenerator(model), extractive)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(["late"], delay=1.5), "openai timed out"),
        (Reply(status=503), "openai unavailable"),
        (Reply(status=401), "openai failed"),
        (Reply([""]), "openai failed"),  # an empty answer is a failure, not an answer
    ],
)
def test_each_failure_is_named_in_the_fallback_answer(reply: Reply, reason: str) -> None:
    with serve([reply]) as server:
        fallback = generator(server.base, timeout=0.4)
        answer = fallback.generate(QUESTION, PASSAGES)
        assert answer.generator == f"extractive (fallback: {reason})"
        assert answer.grounded and answer.citations[0].source == "lighthouse.md"
        assert fallback.status() == "degraded"


def test_a_stream_failing_before_any_text_needs_no_restart() -> None:
    with serve([Reply(status=500)]) as server:
        items = list(generator(server.base).stream(QUESTION, PASSAGES))
    assert not any(isinstance(i, Restart) for i in items)
    final = items[-1]
    assert isinstance(final, Answer)
    assert final.generator == "extractive (fallback: openai unavailable)"
    assert "".join(i for i in items if isinstance(i, str)) == final.answer


def test_status_recovers_after_an_answer_and_follows_the_service() -> None:
    with serve([Reply(status=500), Reply(["Every morning [1]."])]) as server:
        fallback = generator(server.base)
        fallback.generate(QUESTION, PASSAGES)
        assert fallback.status() == "degraded"
        answer = fallback.generate(QUESTION, PASSAGES)
        assert answer.generator == "openai:stand-in" and answer.answer == "Every morning [1]."
        assert fallback.status() == "healthy"
    assert fallback.status() == "degraded"  # the server is gone: its check fails


def test_errors_that_are_not_provider_errors_are_not_hidden() -> None:
    class Broken(ExtractiveGenerator):
        def generate(self, *args: object, **kwargs: object) -> Answer:
            raise ProviderError("the embedder failed too")

    with serve([Reply(status=500)]) as server:
        model = OpenAIChatModel("stand-in", base_url=f"{server.base}/v1", retry=RetryPolicy(0))
        fallback = FallbackGenerator(
            LlmGenerator(model), Broken(HashingEmbedder(), LexicalEncoder())
        )
        with pytest.raises(ProviderError, match="embedder failed too"):
            fallback.generate(QUESTION, PASSAGES)


def checked_generator(base: str, onnx_embedder: Embedder) -> FallbackGenerator:
    model = OpenAIChatModel("stand-in", base_url=f"{base}/v1", retry=RetryPolicy(retries=0))
    lexical = LexicalEncoder()
    llm = LlmGenerator(model, checker=SupportCheck(lexical, onnx_embedder))
    return FallbackGenerator(llm, ExtractiveGenerator(onnx_embedder, lexical))


def test_an_answer_its_passage_does_not_support_is_replaced_by_the_quote(
    onnx_embedder: Embedder,
) -> None:
    made_up = "The lens is replaced by a new one every ten years by the coast guard [1]."
    with serve([Reply([made_up]), Reply(["The lens is cleaned every morning [1]."])]) as server:
        fallback = checked_generator(server.base, onnx_embedder)
        answer = fallback.generate(QUESTION, PASSAGES)
        assert answer.generator.startswith("extractive (fallback: unsupported: ")
        assert "every morning" in answer.answer and answer.citations[0].source == "lighthouse.md"
        # The model works: one unsupported answer does not make it degraded.
        assert fallback.status() == "healthy"
        supported = fallback.generate(QUESTION, PASSAGES)
        assert supported.generator == "openai:stand-in"


def test_a_streamed_unsupported_answer_is_withdrawn_with_a_restart(
    onnx_embedder: Embedder,
) -> None:
    made_up = ["The lens ", "is replaced every ten years ", "by the coast guard [1]."]
    with serve([Reply(made_up)]) as server:
        items = list(checked_generator(server.base, onnx_embedder).stream(QUESTION, PASSAGES))
    restarts = [i for i in items if isinstance(i, Restart)]
    assert len(restarts) == 1 and restarts[0].reason.startswith("unsupported: ")
    after = items[items.index(restarts[0]) + 1 :]
    final = after[-1]
    assert isinstance(final, Answer) and "every morning" in final.answer
    assert "".join(i for i in after if isinstance(i, str)) == final.answer
