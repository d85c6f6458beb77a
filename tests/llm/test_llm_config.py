"""LLM_PROVIDER selects the generator; a missing or bad LLM setting stops start-up, named."""

from __future__ import annotations

import pytest

from rag_chatbot.answering.conversation import RuleRewriter
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.fallback import FallbackGenerator
from rag_chatbot.answering.llm import LlmRewriter
from rag_chatbot.config import load_settings
from rag_chatbot.container import build_generator
from rag_chatbot.errors import ConfigError
from rag_chatbot.providers.embedders.hashing import HashingEmbedder
from rag_chatbot.retrieval.lexical import LexicalEncoder


def extractive() -> ExtractiveGenerator:
    return ExtractiveGenerator(HashingEmbedder(), LexicalEncoder())


def test_default_is_extractive_with_the_rule() -> None:
    generator, rewriter, llm = build_generator(load_settings(), extractive())
    assert isinstance(generator, ExtractiveGenerator)
    assert isinstance(rewriter, RuleRewriter) and llm is None


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_a_model_provider_answers_with_the_extractive_fallback(provider: str) -> None:
    settings = load_settings(
        llm_provider=provider, llm_model="m", llm_api_key="k", llm_base_url="http://127.0.0.1:9"
    )
    generator, rewriter, llm = build_generator(settings, extractive())
    assert isinstance(generator, FallbackGenerator) and generator is llm
    assert generator.name == f"{provider}:m"
    assert isinstance(rewriter, LlmRewriter)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"llm_provider": "openai"}, "LLM_MODEL"),
        ({"llm_provider": "openai", "llm_model": "gpt-4o-mini"}, "LLM_API_KEY"),
        ({"llm_provider": "gemini", "llm_model": "gemini-2.5-flash"}, "LLM_API_KEY"),
        (
            {"llm_provider": "openai", "llm_model": "m", "llm_base_url": "http://x/v1",
             "llm_context_tokens": 1024, "llm_max_tokens": 1024},
            "LLM_MAX_TOKENS",
        ),
    ],
)  # fmt: skip
def test_missing_settings_are_named(settings: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        build_generator(load_settings(**settings), extractive())


def test_bad_values_are_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="LLM_PROVIDER"):
        load_settings(llm_provider="openia")
    with pytest.raises(ConfigError, match="LLM_TIMEOUT"):
        load_settings(llm_timeout=0)
