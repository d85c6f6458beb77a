"""A small embeddings server speaking OpenAI's ``POST /v1/embeddings``, for fault tests.

A real HTTP server (Starlette under uvicorn, in a thread, on a loopback port) whose answers are
scripted: a status, a body that is no embedding list, vectors of another length or not of unit
length, a delay. Unscripted requests get the hashing embedder's vectors of the texts, in float
or base64 as asked. It records every request it gets and how many were in flight at once.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rag_chatbot.providers.embedders import HashingEmbedder

DIMENSION = 8


@dataclass
class Reply:
    """One scripted answer; the defaults are a correct one."""

    status: int = 200
    raw: bytes | None = None  # this body as it is (text/html), instead of vectors
    payload: Any = None  # this JSON instead of the embedding list
    dimension: int = DIMENSION
    scale: float = 1.0  # vectors multiplied by this (a server that does not normalise)
    drop: int = 0  # vectors left out of the answer
    delay: float = 0.0


@dataclass
class StandIn:
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    delay: float = 0.0  # added to every answer (to see requests overlap)
    base: str = ""
    in_flight: int = 0
    most_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self) -> Reply:
        with self._lock:
            return self.replies.pop(0) if self.replies else Reply()

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            reply = self.next_reply()
            await asyncio.sleep(self.delay + reply.delay)
            return _answer(body, reply)
        finally:
            with self._lock:
                self.in_flight -= 1


def _answer(body: dict[str, Any], reply: Reply) -> Response:
    if reply.raw is not None:
        return Response(reply.raw, status_code=reply.status, media_type="text/html")
    if reply.status != 200:
        error = {"message": f"scripted failure {reply.status}", "type": "server_error"}
        return JSONResponse({"error": error}, status_code=reply.status)
    if reply.payload is not None:
        return JSONResponse(reply.payload)
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    vectors = HashingEmbedder(reply.dimension).embed(texts) * reply.scale
    data = []
    for index, vector in enumerate(vectors[: len(vectors) - reply.drop]):
        embedding: object = vector.tolist()
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(vector.astype("<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    data.reverse()  # the index, not the order, says which text a vector is for
    usage = {"prompt_tokens": 0, "total_tokens": 0}
    return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(replies: list[Reply] | None = None, delay: float = 0.0) -> Iterator[StandIn]:
    """The stand-in on a free loopback port; ``base`` is its ``/v1`` URL."""
    standin = StandIn(list(replies or []), delay=delay)
    app = Starlette(routes=[Route("/v1/embeddings", standin.embeddings, methods=["POST"])])
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the embeddings stand-in did not start")
        time.sleep(0.01)
    standin.base = f"http://127.0.0.1:{port}/v1"
    try:
        yield standin
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def unit_rows(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5))
