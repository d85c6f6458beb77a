"""The backends settings choose, one small factory a kind: embedder, vector store, generator.

``build_container`` (``container``) wires what these return into the services; the operations
modules call them alone, to open the index or read the model's identity without the rest.
Optional dependencies are imported inside the factory that needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag_chatbot.answering.base import Generator
from rag_chatbot.answering.conversation import QueryRewriter, RuleRewriter
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.fallback import FallbackGenerator
from rag_chatbot.answering.llm import LlmGenerator, LlmRewriter
from rag_chatbot.answering.prompting import PromptBudget
from rag_chatbot.answering.support import SupportCheck
from rag_chatbot.config import Settings
from rag_chatbot.config_rules import ExtractiveChoice, GeminiChoice, OpenAIChoice
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.generators.base import ChatModel, RetryPolicy
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.payload import collection_name
from rag_chatbot.providers.vector_stores.shared.client import SharedVectorStore
from rag_chatbot.providers.vector_stores.shared.workers import share_with_workers
from rag_chatbot.retrieval.scoring import complete_scores


def _onnx(settings: Settings) -> Embedder:
    from rag_chatbot.providers.embedders.derived import default_cache_dir
    from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(
        batch_size=settings.embedding_batch_size,
        threads=settings.embedding_threads or None,
        model_dir=settings.model_cache_dir or default_cache_dir(),
        precision=settings.embedding_precision,
        device=settings.embedding_device,
    )


def _sentence_transformers(settings: Settings) -> Embedder:
    from rag_chatbot.providers.embedders.sentence_transformers import (
        SentenceTransformerEmbedder,
    )

    return SentenceTransformerEmbedder(
        batch_size=settings.embedding_batch_size, device=settings.embedding_device
    )


def _remote(settings: Settings) -> Embedder:
    from rag_chatbot.providers.embedders.remote import OpenAIEmbedder

    return OpenAIEmbedder(
        settings.embedding_model,
        base_url=settings.embedding_base_url,
        api_key=settings.embedding_api_key,
        dimension=settings.embedding_dimension or None,
        max_tokens=settings.embedding_max_tokens,
        batch_size=settings.embedding_batch_size,
        concurrency=settings.embedding_concurrency,
        timeout=settings.embedding_timeout,
        retry=RetryPolicy(retries=settings.embedding_max_retries),
    )


_EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "onnx": _onnx,
    "sentence-transformers": _sentence_transformers,
    "openai": _remote,
}


def build_embedder(settings: Settings) -> Embedder:
    """The configured model (``Settings`` has checked that this build ships it)."""
    return _EMBEDDERS[settings.embedding_provider](settings)


def embedding_identity(settings: Settings) -> tuple[str, int]:
    """The configured model's name and dimension, known without loading it.

    The local providers run the one model this build ships, so its constants answer for
    either; only the onnx provider embeds passages in integers. A server's model is
    ``EMBEDDING_MODEL``, of ``EMBEDDING_DIMENSION`` or, unset, of the length the server's
    answer to one probe has.
    """
    from rag_chatbot.providers.embedders.onnx import DIMENSION, name_for

    if settings.embedding_provider == "openai":
        if settings.embedding_dimension:
            return settings.embedding_model, settings.embedding_dimension
        remote = build_embedder(settings)
        return remote.name, remote.dimension
    onnx = settings.embedding_provider == "onnx"
    return name_for(settings.embedding_precision if onnx else "float"), DIMENSION


def build_vector_store(settings: Settings, embedder: Embedder) -> VectorStore:
    """The vector store ``settings`` select: a Qdrant server, a shared index or an embedded one.

    QDRANT_URL set: that server. Else, in a worker of ``serve --workers N``: the parent's index
    through ``SharedVectorStore`` (see ``shared_vector_store``). Else: Qdrant's engine in this
    process, in ``DATA_DIR/qdrant/<collection>``.
    """
    if settings.qdrant_url:
        from rag_chatbot.providers.vector_stores.qdrant_server import QdrantServerStore

        return QdrantServerStore.from_url(
            settings.qdrant_url,
            settings.qdrant_api_key,
            collection_name(embedder.name),
            embedder.dimension,
        )
    return SharedVectorStore.from_environment() or _embedded_store(
        settings, embedder.name, embedder.dimension
    )


def _embedded_store(settings: Settings, model_name: str, dimension: int) -> VectorStore:
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(settings.data_dir / "qdrant" / collection_name(model_name), dimension)


@contextmanager
def shared_vector_store(settings: Settings) -> Iterator[Path]:
    """Open the embedded index in this process and serve it to the processes started meanwhile.

    For ``serve --workers N`` without QDRANT_URL: Qdrant Edge opens a shard in one process
    only, so the parent owns it and each worker's ``build_vector_store`` connects to it
    through the socket ``DATA_DIR/run/vector-store.sock`` (yielded). The embedding model is
    not loaded here. Raises ``ProviderError`` when the index is open elsewhere; the socket
    file is then left alone, and otherwise one found there is stale (its server would hold
    the index) and is replaced.
    """
    name, dimension = embedding_identity(settings)
    store = _embedded_store(settings, name, dimension)
    try:
        socket_path = settings.data_dir.resolve() / "run" / "vector-store.sock"
        with share_with_workers(store, socket_path, [complete_scores]) as server:
            yield Path(server.address)
    finally:
        store.close()


def _openai(settings: Settings, choice: OpenAIChoice, retry: RetryPolicy) -> ChatModel:
    from rag_chatbot.providers.generators.openai_compatible import OpenAIChatModel

    return OpenAIChatModel(
        choice.model,
        base_url=choice.base_url,
        api_key=choice.api_key,
        timeout=settings.llm_timeout,
        retry=retry,
        temperature=settings.llm_temperature,
    )


def _gemini(settings: Settings, choice: GeminiChoice, retry: RetryPolicy) -> ChatModel:
    from rag_chatbot.providers.generators.gemini import GeminiChatModel

    return GeminiChatModel(
        choice.model,
        api_key=choice.api_key,
        base_url=choice.base_url,
        timeout=settings.llm_timeout,
        retry=retry,
        temperature=settings.llm_temperature,
    )


def build_generator(
    settings: Settings, extractive: ExtractiveGenerator, checker: SupportCheck | None = None
) -> tuple[Generator, QueryRewriter, FallbackGenerator | None]:
    """The answer generator ``settings.generator`` chose, its query rewriter, and the LLM if any.

    A language model answers with ``extractive`` behind it (used when the model fails, or
    when ``checker`` finds its answer unsupported by the passages it cites).
    """
    choice = settings.generator
    retry = RetryPolicy(retries=settings.llm_max_retries)
    match choice:
        case ExtractiveChoice():
            return extractive, RuleRewriter(), None
        case OpenAIChoice():
            model = _openai(settings, choice, retry)
        case GeminiChoice():
            model = _gemini(settings, choice, retry)
    budget = PromptBudget(
        context_tokens=settings.llm_context_tokens,
        answer_tokens=settings.llm_max_tokens,
        history_tokens=settings.llm_history_tokens,
    )
    llm = FallbackGenerator(LlmGenerator(model, budget, checker), extractive)
    return llm, LlmRewriter(model, history_tokens=settings.llm_history_tokens), llm
