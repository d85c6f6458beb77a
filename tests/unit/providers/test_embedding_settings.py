"""Settings choose the embedder: a server's (``openai``) with what it needs, and the device.

``EMBEDDING_DEVICE=cuda`` on a machine without CUDA is refused at load with one plain line;
where CUDA is present, the same tests check that the model really runs there.
"""

from __future__ import annotations

import pytest
from embedding_standin import DIMENSION, serve

from rag_chatbot.backends import build_embedder, embedding_identity
from rag_chatbot.config import load_settings
from rag_chatbot.errors import ConfigError, ProviderUnavailable
from rag_chatbot.providers.embedders.remote import OpenAIEmbedder

KEY = "sk-settings-secret-0123456789"


def test_a_server_embeds_any_model_it_serves_and_settings_reach_the_embedder() -> None:
    with serve() as server:
        settings = load_settings(
            embedding_provider="openai",
            embedding_model="bge-small-en-v1.5",
            embedding_base_url=server.base,
            embedding_api_key=KEY,
            embedding_batch_size=4,
            embedding_concurrency=3,
            embedding_max_tokens=512,
            embedding_max_retries=4,
        )
        embedder = build_embedder(settings)
        assert isinstance(embedder, OpenAIEmbedder)
        assert (embedder.name, embedder.dimension, embedder.max_tokens) == (
            "bge-small-en-v1.5",
            DIMENSION,
            512,
        )
        assert (embedder.batch_size, embedder.concurrency) == (4, 3)
        assert embedder._retry.retries == 4
        assert embedder.embed(["a"] * 9).shape == (9, DIMENSION)
        assert embedding_identity(settings) == ("bge-small-en-v1.5", DIMENSION)  # probed
        asked = len(server.requests)
        fixed = load_settings(**{**settings.model_dump(), "embedding_dimension": DIMENSION})
        assert embedding_identity(fixed) == ("bge-small-en-v1.5", DIMENSION)
        assert len(server.requests) == asked  # known: no probe
    assert server.requests[0]["model"] == "bge-small-en-v1.5"
    assert sorted(len(r["input"]) for r in server.requests[1:4]) == [1, 4, 4]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"embedding_model": "bge-small"}, "EMBEDDING_MODEL: 'bge-small' is not available offline"),
        ({"embedding_provider": "openai"}, "EMBEDDING_API_KEY: required for api.openai.com"),
        (
            {"embedding_provider": "openai", "embedding_base_url": "ftp://h/v1"},
            "EMBEDDING_BASE_URL: must be an http:// or https:// address",
        ),
        ({"embedding_device": "gpu"}, "EMBEDDING_DEVICE: Input should be 'cpu' or 'cuda'"),
        ({"embedding_concurrency": 0}, "EMBEDDING_CONCURRENCY: Input should be greater than"),
    ],
)  # fmt: skip
def test_each_embedding_rule_names_its_variable(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**overrides)
    assert message in str(refused.value)


def test_the_key_is_never_repeated_in_an_error() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(embedding_provider="openai", embedding_api_key=["not", KEY])
    assert "EMBEDDING_API_KEY" in str(refused.value) and KEY not in str(refused.value)


def test_onnx_on_cuda_runs_there_or_is_refused_in_one_line(tmp_path: object) -> None:
    import onnxruntime

    settings = load_settings(
        embedding_device="cuda", embedding_precision="float", model_cache_dir=tmp_path
    )
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        embedder = build_embedder(settings)
        assert embedder._session.get_providers()[0] == "CUDAExecutionProvider"  # type: ignore[attr-defined]
        return
    with pytest.raises(ProviderUnavailable) as refused:
        build_embedder(settings)
    message = str(refused.value)
    assert message.startswith(
        "EMBEDDING_DEVICE=cuda but onnxruntime has no CUDA provider (install onnxruntime-gpu"
    )
    assert "CPUExecutionProvider" in message and "\n" not in message


def test_sentence_transformers_on_cuda_runs_there_or_is_refused_in_one_line() -> None:
    torch = pytest.importorskip("torch", reason="the 'torch' extra is not installed")
    pytest.importorskip("sentence_transformers")
    settings = load_settings(embedding_provider="sentence-transformers", embedding_device="cuda")
    if torch.cuda.is_available():
        embedder = build_embedder(settings)
        assert embedder._model.device.type == "cuda"  # type: ignore[attr-defined]
        return
    with pytest.raises(ProviderUnavailable) as refused:
        build_embedder(settings)
    assert str(refused.value).startswith("EMBEDDING_DEVICE=cuda but torch ")
    assert "sees no CUDA GPU" in str(refused.value)
