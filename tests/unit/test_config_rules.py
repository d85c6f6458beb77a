"""Settings decide: the generator as a discriminated choice, whole-setting rules named, and
misspelt settings in .env reported instead of ignored."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from rag_chatbot.config import Settings, load_settings
from rag_chatbot.config_rules import (
    ExtractiveChoice,
    GeminiChoice,
    GeneratorChoice,
    OpenAIChoice,
    unknown_keys,
)
from rag_chatbot.errors import ConfigError


def test_the_generator_is_chosen_once_with_what_it_needs() -> None:
    assert load_settings().generator == ExtractiveChoice()
    openai = load_settings(llm_provider="openai", llm_model="m", llm_base_url="http://h/v1")
    assert openai.generator == OpenAIChoice(model="m", base_url="http://h/v1", api_key=None)
    gemini = load_settings(llm_provider="gemini", llm_model="g", llm_api_key="k")
    assert isinstance(gemini.generator, GeminiChoice) and gemini.generator.api_key == "k"
    # The union is discriminated by kind: a stored choice reads back as the same class.
    adapter: TypeAdapter[ExtractiveChoice | OpenAIChoice | GeminiChoice] = TypeAdapter(
        GeneratorChoice
    )
    assert adapter.validate_python(openai.generator.model_dump()) == openai.generator


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"llm_provider": "openai"}, "invalid setting: LLM_MODEL: required when LLM_PROVIDER"),
        ({"llm_provider": "gemini", "llm_model": "g"}, "LLM_API_KEY: required when LLM_PROVIDER"),
        ({"embedding_model": "bge-small"}, "EMBEDDING_MODEL: 'bge-small' is not available offline"),
    ],
)  # fmt: skip
def test_each_rule_names_its_variable_at_load(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**overrides)
    assert message in str(refused.value)
    assert "SETTINGS:" not in str(refused.value)
    variable = message.removeprefix("invalid setting: ").split(":")[0]
    assert str(refused.value).count(variable + ":") == 1  # named once, not twice


def test_misspelt_settings_in_env_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".env").write_text(
        "EMBEDING_MODEL=all-MiniLM-L6-v2\n"
        "export LLM_MODLE=gpt\n"
        "LOG_LEVEL=INFO\n"  # a setting
        "POSTGRES_PASSWORD=x\nBACKUP_DIR=/b\nDR_DATABASE_URL=postgresql://h/d\n"  # other tools'
        "# REDIS_ULR=commented out\n"
    )
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="rag_chatbot.config"):
        settings = load_settings()
    assert settings.log_level == "INFO"
    reported = [r.getMessage() for r in caplog.records]
    assert reported == [
        ".env: EMBEDING_MODEL is not a setting; did you mean EMBEDDING_MODEL?",
        ".env: LLM_MODLE is not a setting; did you mean LLM_MODEL?",
    ]


def test_no_env_file_reports_nothing(tmp_path: Path) -> None:
    assert unknown_keys(tmp_path / ".env", Settings.model_fields) == []
