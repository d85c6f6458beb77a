"""Each distinct passage embedded once; float and int8 indexes kept apart."""

from __future__ import annotations

import shutil
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from rag_chatbot.config import Settings
from rag_chatbot.container import build_container
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.embedders.memo import VectorMemo
from rag_chatbot.retrieval.scoring import read_hits

pytestmark = pytest.mark.integration


def test_a_text_met_again_is_not_embedded_again(onnx_embedder: Embedder) -> None:
    asked: list[str] = []

    def embed(texts: list[str]) -> np.ndarray:
        asked.extend(texts)
        return onnx_embedder.embed(texts)

    memo = VectorMemo(capacity=3)
    first = memo.embed(["tea", "boats", "tea"], embed)
    assert asked == ["tea", "boats"] and memo.reused == 1
    np.testing.assert_array_equal(first[0], first[2])
    memo.embed(["boats", "oars", "sails"], embed)  # "tea", the least recent, is dropped
    memo.embed(["tea"], embed)
    assert asked == ["tea", "boats", "oars", "sails", "tea"] and memo.reused == 2


def test_a_page_shipped_twice_is_embedded_once(
    settings: Settings, onnx_embedder: Embedder, fixture_corpus: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    shutil.copy(corpus / "lighthouse.md", corpus / "index.md")  # as the Git manual does
    with closing(build_container(settings, embedder=onnx_embedder)) as container:
        report = container.pipeline.ingest_paths([corpus])
        rows = {d.source: d for d in container.repository.list_documents()}
        assert report.reused == rows["index.md"].chunk_count > 0
        assert report.chunks == sum(d.chunk_count for d in rows.values())
        # Both copies are found, with one vector: the same score for the same passage.
        question = onnx_embedder.embed_queries(["How often is the lighthouse lamp cleaned?"])
        hits = read_hits(container.store, container.store.score_dense(question[0].tolist(), 10))
        top = {h.chunk.source: h.score for h in hits if h.chunk.position == hits[0].chunk.position}
        assert {"index.md", "lighthouse.md"} <= set(top)
        assert top["index.md"] == pytest.approx(top["lighthouse.md"], abs=1e-6)


def test_changing_precision_reindexes_into_its_own_collection(
    settings: Settings,
    onnx_embedder: Embedder,
    fixture_corpus: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

    assert settings.embedding_precision == "int8" and onnx_embedder.name.endswith("-int8")
    exact = OnnxMiniLMEmbedder(model_dir=tmp_path / "models", precision="float")
    as_float = settings.model_copy(update={"embedding_precision": "float"})
    question = "How often is the lighthouse lamp cleaned?"
    with closing(build_container(as_float, embedder=exact)) as container:
        assert container.pipeline.ingest_paths([fixture_corpus]).added > 0
        assert "holds no passages" not in caplog.text  # an empty database is not a warning
        documents = container.repository.counts()["documents"]
        before = container.answerer.ask(question).citations[0].source
    with closing(build_container(settings, embedder=onnx_embedder)) as container:
        # Until the documents are embedded again, searches find nothing: start-up says so.
        assert "holds no passages for all-MiniLM-L6-v2-int8" in caplog.text
        assert "EMBEDDING_PRECISION" in caplog.text
        report = container.pipeline.ingest_paths([fixture_corpus])
        # Nothing of the float index is reused: every document is embedded again, in integers.
        assert (report.added + report.updated, report.unchanged) == (documents, 0)
        assert container.store.count() == report.chunks
        assert container.answerer.ask(question).citations[0].source == before
    collections = sorted(p.name for p in (settings.data_dir / "qdrant").iterdir())
    assert len(collections) == 2 and any(name.endswith("int8") for name in collections)
    # Back to float: the float collection's points no longer match the rows; nothing mixes.
    with closing(build_container(as_float, embedder=exact)) as container:
        report = container.pipeline.ingest_paths([fixture_corpus])
        assert report.unchanged == 0 and container.store.count() == report.chunks
        assert container.answerer.ask(question).citations[0].source == before
