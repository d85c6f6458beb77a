"""One machine embeds for the others: a real `rag-chatbot serve` answers `/v1/embeddings`.

Another process ingests and searches with ``EMBEDDING_PROVIDER=openai`` pointed at it; its
vectors are the server's model's, equal to that model run here. The endpoint's auth and input
limits are checked on the same server, and the command line's plain one-line errors for a
server that is down, one that fails once (a scripted stand-in), a wrong dimension and a GPU
that is not there.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from clirun import cli
from embedding_standin import Reply, free_port, serve
from servers import start_server, stop
from testing_secrets import TEST_ADMIN_TOKEN

from rag_chatbot.providers.embedders.onnx import MODEL_NAME, OnnxMiniLMEmbedder
from rag_chatbot.providers.embedders.remote import OpenAIEmbedder
from rag_chatbot.providers.vector_stores.payload import collection_name

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
FOG = "When does the fog horn sound?"
FOG_URL = "/read/lighthouse.md#fog-signals"


@dataclass
class Server:
    base: str

    @property
    def v1(self) -> str:
        return f"{self.base}/v1"

    def client_env(self, **extra: str) -> dict[str, str]:
        """The settings of a machine that embeds through this server."""
        return {
            "EMBEDDING_PROVIDER": "openai",
            "EMBEDDING_BASE_URL": self.v1,
            "EMBEDDING_MODEL": MODEL_NAME,
            "EMBEDDING_API_KEY": TEST_ADMIN_TOKEN,
            **extra,
        }


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MODEL_CACHE_DIR of this process and the server: the derived models are built once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def local(models: Path) -> OnnxMiniLMEmbedder:
    """The server's model (float precision), run in this process."""
    return OnnxMiniLMEmbedder(model_dir=models, precision="float")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, models: Path, local: OnnxMiniLMEmbedder
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("embedding-server")
    env = {
        "DATA_DIR": str(root / "data"),
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "EMBEDDING_PRECISION": "float",  # vectors equal whatever the batches (int8's are not)
        "MODEL_CACHE_DIR": str(models),
        "MAX_UPLOAD_MB": "1",
        "RATE_LIMIT_DEFAULT": "100000/minute",
        "RATE_LIMIT_AUTH": "100000/minute",
    }
    process, base = start_server(root, env)
    yield Server(base)
    stop(process)


def passages() -> list[str]:
    """Real passages: the paragraphs of the test corpus and of this project's docs."""
    files = [*sorted((ROOT / "tests/fixtures/corpus").glob("*.*")), ROOT / "docs/llm.md"]
    found: list[str] = []
    for path in files:
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            if len(block.strip()) > 80:
                found.append(block.strip())
    return found[:40]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)  # both have unit rows


def test_remote_vectors_are_the_servers_model(server: Server, local: OnnxMiniLMEmbedder) -> None:
    texts = passages()
    remote = OpenAIEmbedder(
        MODEL_NAME, base_url=server.v1, api_key=TEST_ADMIN_TOKEN, batch_size=7, concurrency=2
    )
    vectors = remote.embed(texts)

    assert remote.dimension == local.dimension == 384
    assert len(texts) >= 30
    assert cosines(vectors, local.embed(texts)).min() >= 0.999
    # The official OpenAI client asks for base64 unless told otherwise.
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.v1, api_key=TEST_ADMIN_TOKEN)
    answer = client.embeddings.create(model=MODEL_NAME, input=texts[:5])
    official = np.asarray([item.embedding for item in answer.data], dtype=np.float32)
    assert cosines(official, vectors[:5]).min() >= 0.999
    assert answer.usage.prompt_tokens == sum(min(local.count_tokens(t), 256) for t in texts[:5])


def test_another_process_ingests_and_searches_through_the_server(
    server: Server, tmp_path: Path
) -> None:
    env = server.client_env()
    ingested = cli(
        "ingest", str(ROOT / "tests/fixtures/corpus"), "--json", data_dir=tmp_path, **env
    )
    assert ingested.returncode == 0, ingested.stderr
    report = json.loads(ingested.stdout)
    assert report["added"] == 3 and report["failed"] == 0, report

    found = cli("search", FOG, "--json", data_dir=tmp_path, **env)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"][0]["url"] == FOG_URL
    # The index is named by the model, as a local one is: the same collection either way.
    assert [p.name for p in (tmp_path / "qdrant").iterdir()] == [collection_name(MODEL_NAME)]


def test_the_endpoint_speaks_openais_shape(server: Server) -> None:
    one = httpx.post(
        f"{server.v1}/embeddings", json={"model": MODEL_NAME, "input": "tea"}, headers=ADMIN
    )
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["object"] == "list" and body["model"] == MODEL_NAME
    assert [(d["object"], d["index"], len(d["embedding"])) for d in body["data"]] == [
        ("embedding", 0, 384)
    ]
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}  # [CLS] tea [SEP]
    empty = httpx.post(
        f"{server.v1}/embeddings", json={"model": MODEL_NAME, "input": ["", "x"]}, headers=ADMIN
    )
    assert empty.status_code == 200 and len(empty.json()["data"]) == 2


def test_only_a_bearer_token_may_embed(server: Server) -> None:
    body = {"model": MODEL_NAME, "input": ["tide tables"]}
    url = f"{server.v1}/embeddings"
    nobody = httpx.post(url, json=body)
    assert nobody.status_code == 401
    assert nobody.json()["error"]["code"] == "UNAUTHORIZED"
    assert nobody.headers["www-authenticate"] == "Bearer"
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    reader = {"username": "embedding-reader", "password": "a long enough password"}
    assert httpx.post(f"{server.base}/api/auth/register", json=reader).status_code == 201
    token = httpx.post(f"{server.base}/api/auth/login", json=reader).json()["access_token"]
    as_reader = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert as_reader.status_code == 200, as_reader.text


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"input": ["x"] * 513}, 422, "input: 513 texts; at most 512 a request"),
        ({"input": ["x", "y" * 16_385]}, 422, "input: text 1 has 16385 characters; at most 16384"),
        ({"input": "y" * 16_385}, 422, "input: text 0 has 16385 characters; at most 16384"),
        ({"input": []}, 422, "input"),
        ({"input": [[101, 2000]]}, 422, "input: token arrays are not accepted; send text"),
        ({"input": "x", "model": "text-embedding-3-small"}, 404,
         f"model 'text-embedding-3-small' not found; this server embeds with '{MODEL_NAME}'"),
        ({"input": "x", "dimensions": 256}, 422,
         f"dimensions: {MODEL_NAME} makes 384-dimensional vectors only"),
        ({"input": "x", "encoding_format": "int8"}, 422, "encoding_format"),
        ({"input": ["x" * 1500] * 1000}, 413, "request body over"),
    ],
)  # fmt: skip
def test_input_over_the_limits_is_refused_with_a_clear_message(
    server: Server, body: dict[str, object], status: int, said: str
) -> None:
    response = httpx.post(
        f"{server.v1}/embeddings", json={"model": MODEL_NAME, **body}, headers=ADMIN, timeout=30
    )
    assert response.status_code == status, response.text
    assert said in response.json()["detail"]


def test_base64_vectors_are_the_float_ones(server: Server) -> None:
    asked = {"model": MODEL_NAME, "input": ["fog horn", "tea"]}
    floats = httpx.post(f"{server.v1}/embeddings", json=asked, headers=ADMIN).json()
    packed = httpx.post(
        f"{server.v1}/embeddings", json={**asked, "encoding_format": "base64"}, headers=ADMIN
    ).json()
    for plain, encoded in zip(floats["data"], packed["data"], strict=True):
        decoded = np.frombuffer(base64.b64decode(encoded["embedding"]), dtype="<f4")
        np.testing.assert_allclose(decoded, plain["embedding"], atol=1e-7)


def test_a_wrong_dimension_fails_each_document_with_a_clear_reason(
    server: Server, tmp_path: Path
) -> None:
    env = server.client_env(EMBEDDING_DIMENSION="768")
    ingested = cli(
        "ingest", str(ROOT / "tests/fixtures/corpus"), "--json", data_dir=tmp_path, **env
    )
    assert ingested.returncode == 1
    reasons = {f["reason"] for f in json.loads(ingested.stdout)["failures"]}
    assert reasons == {
        f"embedding server {server.v1}/embeddings answered 384-dimensional vectors, "
        "expected 768 (EMBEDDING_DIMENSION, or the first answer)"
    }


def test_an_unreachable_server_stops_ingest_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "EMBEDDING_API_KEY": "sk-never-shown-0123456789",
        "EMBEDDING_MAX_RETRIES": "1",
    }
    ingested = cli("ingest", str(ROOT / "tests/fixtures/corpus"), data_dir=tmp_path, **env)
    assert ingested.returncode == 2
    # The retry is logged (a warning), then the error: one line.
    *warnings, error = ingested.stderr.strip().splitlines()
    assert warnings == ["embedding_retry"], ingested.stderr
    assert error.startswith(
        f"error: cannot reach the embedding server http://127.0.0.1:{port}/v1/embeddings: "
        "ConnectError"
    )
    assert error.endswith("(2 attempts)") and "sk-never-shown" not in ingested.stderr


def test_a_server_that_fails_once_is_asked_again(tmp_path: Path) -> None:
    with serve([Reply(status=500)]) as standin:
        env = {
            "EMBEDDING_PROVIDER": "openai",
            "EMBEDDING_BASE_URL": standin.base,
            "EMBEDDING_MODEL": "stand-in",
        }
        ingested = cli(
            "ingest", str(ROOT / "tests/fixtures/corpus"), "--json", data_dir=tmp_path, **env
        )
    assert ingested.returncode == 0, ingested.stderr
    report = json.loads(ingested.stdout)
    assert report["added"] == 3 and report["failed"] == 0
    probe, retried = standin.requests[:2]
    assert probe == retried  # the probe that got the 500, asked again


def test_cuda_asked_for_without_cuda_is_refused_at_start(tmp_path: Path) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has onnxruntime's CUDA provider")
    ingested = cli(
        "ingest",
        str(ROOT / "tests/fixtures/corpus"),
        data_dir=tmp_path,
        EMBEDDING_DEVICE="cuda",
        EMBEDDING_PRECISION="float",
    )
    assert ingested.returncode == 2
    assert ingested.stderr.strip().splitlines() == [
        "error: EMBEDDING_DEVICE=cuda but onnxruntime has no CUDA provider (install "
        "onnxruntime-gpu in place of onnxruntime); it has "
        + ", ".join(onnxruntime.get_available_providers())
    ]
