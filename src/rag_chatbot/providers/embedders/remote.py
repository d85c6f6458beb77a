"""Vectors from another machine: any server speaking OpenAI's ``POST /embeddings``.

So that one machine with a GPU or spare cores embeds for the others: a ``rag-chatbot serve``
(its ``/v1/embeddings``), Hugging Face TEI, Infinity, vLLM, Ollama, llama.cpp's server with
``--embedding``, or OpenAI itself. ``EMBEDDING_BASE_URL`` is the server's ``/v1`` root, as
``LLM_BASE_URL`` is for language models.

The model's tokenizer is not known here: ``count_tokens`` counts with the tokenizer of the model
this package ships (all-MiniLM-L6-v2's WordPiece). For that model, served remotely, the count
is exact; for another it is an estimate, so passages may come out a little longer or shorter
than that model's window (the server truncates what is over it).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from rag_chatbot.errors import EmbeddingError
from rag_chatbot.providers.embedders.base import Vectors
from rag_chatbot.providers.generators.base import RetryPolicy

if TYPE_CHECKING:
    from tokenizers import Tokenizer

OPENAI_URL = "https://api.openai.com/v1"
PROBE_TEXT = "How often is the lens of a lighthouse cleaned?"
# A server's vectors within this of unit length are used as they are; others are normalised.
_UNIT_TOLERANCE = 1e-3
log = logging.getLogger(__name__)


class _Retryable(Exception):
    """A failure worth asking again for: no connection, HTTP 429 or 5xx."""


def shown_url(base_url: str) -> str:
    """``base_url`` as error messages show it: without a user name or password in it."""
    url = httpx.URL(base_url)
    return str(url.copy_with(username=None, password=None)) if url.userinfo else base_url


class OpenAIEmbedder:
    """The ``Embedder`` protocol over an OpenAI-compatible embeddings server.

    - ``name`` is ``model`` (``EMBEDDING_MODEL``): the vector collection is named by it, like
      every other model's. ``dimension`` is ``dimension`` when given, else learned from one
      probe request made here (so a server that cannot be reached stops start-up).
    - ``embed`` sends ``batch_size`` texts a request, ``concurrency`` requests at once, and
      returns unit-length rows (normalised here when the server does not). ``embed_queries``
      is the same call.
    - HTTP 429, 5xx and connection failures are retried ``retry.retries`` times with the LLM
      clients' backoff (``RetryPolicy``); a timeout is not retried (the server is busy: asking
      again adds to its load), nor is another 4xx.
    - Every failure is an ``EmbeddingError`` of one line naming the server (never the key):
      unreachable, an HTTP error, or an answer that is no embedding list (not JSON, no
      ``data``, the wrong number of vectors, the wrong dimension, values that are no numbers).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dimension: int | None = None,
        max_tokens: int = 256,
        batch_size: int = 32,
        concurrency: int = 2,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if batch_size < 1 or concurrency < 1 or max_tokens < 1:
            raise ValueError("batch_size, concurrency and max_tokens must be >= 1")
        self.name = model
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.url = (base_url or OPENAI_URL).rstrip("/") + "/embeddings"
        self.server = shown_url(self.url)
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._counter: Tokenizer | None = None
        if dimension is None:
            dimension = int(self._request([PROBE_TEXT]).shape[1])
            log.info("remote_embedder", extra={"server": self.server, "dimension": dimension})
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in order: unit rows of float32, shape ``(len(texts), dimension)``."""
        batches = [
            list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        if not batches:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(batches) == 1 or self.concurrency == 1:
            parts = [self._checked(batch) for batch in batches]
        else:
            with ThreadPoolExecutor(min(self.concurrency, len(batches))) as pool:
                parts = list(pool.map(self._checked, batches))
        return np.concatenate(parts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed(texts)

    def count_tokens(self, text: str) -> int:
        """Word pieces of all-MiniLM-L6-v2's tokenizer, [CLS] and [SEP] included (see module)."""
        if self._counter is None:
            from rag_chatbot.providers.embedders.onnx import load_tokenizer

            self._counter = load_tokenizer(truncate=False)
        return len(self._counter.encode(text).ids)

    def close(self) -> None:
        self._client.close()

    def _checked(self, texts: list[str]) -> Vectors:
        vectors = self._request(texts)
        if vectors.shape[1] != self.dimension:
            raise EmbeddingError(
                f"embedding server {self.server} answered {vectors.shape[1]}-dimensional "
                f"vectors, expected {self.dimension} (EMBEDDING_DIMENSION, or the first answer)"
            )
        return vectors

    def _request(self, texts: list[str]) -> Vectors:
        """One batch, retried by the policy: an ``(len(texts), d)`` array of unit rows."""
        attempt = 0
        while True:
            try:
                return self._post(texts)
            except _Retryable as exc:
                if attempt >= self._retry.retries:
                    tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
                    raise EmbeddingError(f"{exc} ({tries})") from exc.__cause__
                wait = self._retry.delay(attempt)
                log.warning(
                    "embedding_retry",
                    extra={"server": self.server, "attempt": attempt + 1, "wait": round(wait, 2)},
                )
                self._sleep(wait)
                attempt += 1

    def _post(self, texts: list[str]) -> Vectors:
        body = {"model": self.name, "input": texts, "encoding_format": "float"}
        try:
            response = self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise EmbeddingError(
                f"embedding server {self.server} did not answer within {self._timeout:g} s "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise _Retryable(
                f"cannot reach the embedding server {self.server}: {type(exc).__name__}: {exc}"
            ) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"embedding server {self.server} answered HTTP {status}")
        if status >= 400:
            raise EmbeddingError(
                f"embedding server {self.server} refused the request: HTTP {status}: "
                f"{_reason(response)}"
            )
        return self._vectors(response, len(texts))

    def _vectors(self, response: httpx.Response, count: int) -> Vectors:
        def garbage(what: str) -> EmbeddingError:
            return EmbeddingError(f"embedding server {self.server} answered {what}")

        try:
            payload = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise garbage(f"something that is not JSON ({kind})") from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise garbage("JSON without a 'data' list")
        if len(data) != count:
            raise garbage(f"{len(data)} vectors for {count} texts")
        try:
            ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
            rows = [_vector(item["embedding"]) for item in ordered]
        except (AttributeError, KeyError, TypeError, ValueError, binascii.Error):
            raise garbage("items that are not embeddings") from None
        if len({len(row) for row in rows}) > 1 or not len(rows[0]):
            raise garbage("vectors of different lengths, or empty ones")
        vectors = np.asarray(rows, dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise garbage("values that are not finite numbers")
        return _unit(vectors, garbage)


def _vector(embedding: Any) -> Any:
    """A JSON list of numbers, or base64 of little-endian float32 (``encoding_format``)."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4")
    if not isinstance(embedding, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in embedding
    ):
        raise TypeError("not a list of numbers")
    return embedding


def _unit(vectors: Vectors, garbage: Callable[[str], EmbeddingError]) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise garbage("a vector of zeros")
    if np.abs(norms - 1.0).max() <= _UNIT_TOLERANCE:
        return vectors
    unit: Vectors = (vectors / norms).astype(np.float32, copy=False)
    return unit


def _reason(response: httpx.Response) -> str:
    """The server's own error message (OpenAI's ``error.message``, else the text), short."""
    try:
        payload = response.json()
        error = payload.get("error") if isinstance(payload, dict) else None
        message = error.get("message") if isinstance(error, dict) else error or payload
    except ValueError:
        message = response.text
    line = " ".join(str(message).split())
    return line[:200] or response.reason_phrase
