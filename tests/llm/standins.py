"""Small local HTTP servers speaking the OpenAI and Gemini REST shapes, for tests.

Gemini cannot be reached from here and OpenAI would cost money; these stand-ins answer with
scripted replies (a status, text in pieces, a delay) so the real SDKs can be driven through
retries, timeouts and streams. They record every request they get.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply: an HTTP status, or text sent in ``pieces`` after ``delay`` s."""

    pieces: list[str] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    cut: bool = False  # close the stream after the pieces, without its end


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class StandIn:
    """The server's script and what it saw; ``base`` is its root URL."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[Recorded] = []
        self.base = ""
        self._lock = threading.Lock()

    def next_reply(self) -> Reply:
        with self._lock:
            return self.replies.pop(0) if self.replies else Reply(["(no more replies)"])


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            self._record({})
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "stand-in"}]})
            else:  # Gemini's models.get
                self._json(200, {"name": self.path.split("/", 2)[-1]})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._record(body)
            reply = standin.next_reply()
            time.sleep(reply.delay)
            if reply.status != 200:
                error = {"error": {"message": "scripted failure", "code": reply.status}}
                self._json(reply.status, error)
            elif "chat/completions" in self.path:
                self._openai(body, reply)
            else:
                self._gemini(reply)

        def _record(self, body: dict[str, Any]) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            standin.requests.append(Recorded(self.command, self.path, headers, body))

        def _openai(self, body: dict[str, Any], reply: Reply) -> None:
            if not body.get("stream"):
                message = {"role": "assistant", "content": "".join(reply.pieces)}
                self._json(200, _completion(message, final=True))
                return
            events = [
                _completion({"role": "assistant", "content": p}, final=False) for p in reply.pieces
            ]
            if not reply.cut:
                events += [_completion({}, final=True), "[DONE]"]
            self._sse(events)

        def _gemini(self, reply: Reply) -> None:
            last = len(reply.pieces) - 1
            chunks = [
                _gemini_chunk(p, final=i == last and not reply.cut)
                for i, p in enumerate(reply.pieces)
            ]
            if "streamGenerateContent" in self.path:
                self._sse(chunks)
            else:
                self._json(200, _gemini_chunk("".join(reply.pieces), final=True))

        def _json(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("connection", "close")  # no connection outlives the server
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def _sse(self, events: list[object]) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            for event in events:
                data = event if isinstance(event, str) else json.dumps(event)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()
            self.close_connection = True

    return Handler


def _completion(delta_or_message: dict[str, Any], *, final: bool) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop" if final else None}
    if "content" in delta_or_message and final:
        choice["message"] = delta_or_message
        kind = "chat.completion"
    else:
        choice["delta"] = delta_or_message
        kind = "chat.completion.chunk"
    return {"id": "x", "object": kind, "created": 0, "model": "stand-in", "choices": [choice]}


def _gemini_chunk(text: str, *, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if final:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "modelVersion": "stand-in"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (a timeout test) closes its end: expected


@contextmanager
def serve(replies: list[Reply]) -> Iterator[StandIn]:
    """Run a stand-in on a free loopback port for the duration of the block."""
    standin = StandIn(replies)
    server = _Server(("127.0.0.1", 0), _handler(standin))
    standin.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
