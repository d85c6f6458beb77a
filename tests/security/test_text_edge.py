"""Text PostgreSQL cannot store is a 422, a stream that fails says so, an oversize chunked upload
is a 413, and a refused request leaves the keep-alive connection usable.

Each test runs on SQLite and on a fresh PostgreSQL database (``make_container``); a NUL or a
lone surrogate failed with a 500 on PostgreSQL only.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import BaseModel
from security_support import ADMIN, Factory, browser, client
from sqlalchemy import Engine, text
from sse import sse_events
from starlette.routing import BaseRoute

from rag_chatbot.api.app import create_app
from rag_chatbot.api.storable import StorableBody, StorableRequest
from rag_chatbot.container import Container

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@dataclass
class Case:
    method: str
    url: str
    json: Any = None
    content: bytes | None = None  # raw JSON: a lone surrogate cannot be sent with ``json=``
    headers: dict[str, str] = field(default_factory=dict)


def _raw(body: str) -> bytes:
    return body.encode()


def _cases(session_id: str, message_id: str) -> list[Case]:
    """One request a route that takes text (path, query, header, body), each with a NUL."""
    completion = {"model": "rag-chatbot", "messages": [{"role": "user", "content": "tea\x00?"}]}
    parts = [{"type": "text", "text": "tea\x00?"}]
    return [
        Case("GET", "/read/a%00b"),
        Case("GET", "/api/documents/a%00b"),
        Case("DELETE", "/api/documents/a%00b", headers=ADMIN),
        Case("GET", "/api/sessions/a%00b"),
        Case("GET", "/api/sessions/a%00b/messages"),
        Case("DELETE", "/api/sessions/a%00b"),
        Case("POST", "/api/messages/a%00b/feedback", json={"rating": 1}),
        Case("POST", f"/api/messages/{message_id}/feedback", json={"rating": 1, "comment": "\x00"}),
        Case("POST", "/api/chat", json={"message": "tea\x00?"}),
        Case("POST", "/api/chat", json={"message": "tea\x00?", "stream": True}),
        Case("POST", "/api/chat", json={"message": "tea?", "selected_text": "green\x00tea"}),
        Case("POST", "/api/chat", json={"message": "tea?", "session_id": "a\x00b"}),
        Case("POST", "/api/chat", json={"message": "tea?", "session_id": session_id + "\x00"}),
        Case("POST", "/api/search", json={"query": "tea\x00"}),
        Case("GET", "/api/health?probe=%00"),
        Case("GET", "/api/sessions", headers={"X-Client-Token": "a" * 20 + "\x00"}),
        Case("GET", "/api/auth/me", headers={"Authorization": "Bearer a\x00b"}),
        Case("GET", "/api/health", headers={"X-Request-ID": "a\x00b"}),
        Case("POST", "/api/auth/register", json={"username": "kim\x00", "password": "pw-12345678"}),
        Case("POST", "/api/auth/login", json={"username": "kim\x00", "password": "pw-12345678"}),
        Case("POST", "/api/auth/refresh", json={"refresh_token": "a\x00b"}),
        Case("POST", "/api/admin/cache/warm", json={"questions": ["tea\x00?"]}, headers=ADMIN),
        Case("POST", "/v1/chat/completions", json=completion, headers=ADMIN),
        Case("POST", "/v1/embeddings", json={"model": "m", "input": ["tea\x00"]}, headers=ADMIN),
        Case("POST", "/api/jobs", json={"kind": "ingest", "path": "/srv/\x00"}, headers=ADMIN),
        Case("GET", "/api/jobs/a%00b", headers=ADMIN),
        Case("DELETE", "/api/jobs/a%00b", headers=ADMIN),
        Case("POST", "/api/sources", json={"url": "https://docs.example.org/\x00"}, headers=ADMIN),
        Case("GET", "/api/sources/a%00b", headers=ADMIN),
        Case("POST", "/api/sources/a%00b/crawl", headers=ADMIN),
        Case("DELETE", "/api/sources/a%00b", headers=ADMIN),
        Case(
            "POST",
            "/v1/chat/completions",
            json={**completion, "messages": [{"role": "user", "content": parts}]},
            headers=ADMIN,
        ),
        # JSON's "\ud800" decodes to a lone surrogate, which psycopg cannot encode.
        Case("POST", "/api/chat", content=_raw('{"message": "tea \\ud800?"}')),
        Case("POST", "/api/search", content=_raw('{"query": "tea \\udfff"}')),
        Case("POST", "/api/auth/login", content=_raw('{"username": "\\ud83d", "password": "x"}')),
    ]


async def _send(http: httpx.AsyncClient, case: Case) -> httpx.Response:
    headers = dict(case.headers)
    if case.content is not None:
        headers["Content-Type"] = "application/json"
    return await http.request(
        case.method, case.url, json=case.json, content=case.content, headers=headers
    )


async def _exchange(http: httpx.AsyncClient) -> tuple[str, str]:
    """A real session and message id of this browser's."""
    answer = await http.post("/api/chat", json={"message": "How should green tea be brewed?"})
    assert answer.status_code == 200, answer.text
    return answer.json()["session_id"], answer.json()["message_id"]


async def test_text_the_database_cannot_store_is_invalid_input(make_container: Factory) -> None:
    container = make_container(allow_registration=True, enable_response_cache=True)
    # As a server would: an unexpected error is the app's 500 response, not an exception here.
    transport = httpx.ASGITransport(app=create_app(container), raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=browser()
    ) as http:
        session_id, message_id = await _exchange(http)
        wrong = []
        for case in _cases(session_id, message_id):
            response = await _send(http, case)
            json_body = response.headers.get("content-type") == "application/json"
            body = response.json() if json_body else {"text": response.text[:80]}
            if response.status_code != 422 or body.get("error_code") != "INVALID_INPUT":
                sent = case.json if case.content is None else case.content
                wrong.append(f"{case.method} {case.url} {sent!r} -> {response.status_code} {body}")
            else:
                assert set(body) >= {"detail", "error_code", "timestamp"}
        assert not wrong, "\n".join(wrong)
        # Nothing was stored on the way: the session still holds one question and its answer.
        messages = await http.get(f"/api/sessions/{session_id}/messages")
        assert [m["role"] for m in messages.json()] == ["user", "assistant"]


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route of an app, inside included routers too."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI keeps routers whole
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def _takes_text(route: APIRoute) -> bool:
    """Path parameters or a JSON body (a multipart upload's only text is its file name)."""
    json_body = route.body_field is not None and not isinstance(route.body_field.field_info, Form)
    return bool(route.param_convertors) or json_body


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The request models in ``annotation``, nested ones included."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for inner in annotation.model_fields.values():
            yield from _models(inner.annotation)
    for argument in getattr(annotation, "__args__", ()):
        yield from _models(argument)


def test_every_route_that_takes_text_is_covered(container: Container) -> None:
    """A new route with a path parameter or a JSON body is checked here, or this test fails."""
    app = create_app(container)
    assert any(m.cls is StorableRequest for m in app.user_middleware)
    routes = [r for r in _api_routes(app.routes) if _takes_text(r)]
    assert len(routes) >= 14
    sent = _cases("s", "m")
    for route in routes:
        if route.body_field is not None:
            for model in _models(route.body_field.field_info.annotation):
                assert issubclass(model, StorableBody), (route.path, model)
        hit = any(
            case.method in route.methods and route.path_regex.match(httpx.URL(case.url).path)
            for case in sent
        )
        assert hit, f"no NUL case for {sorted(route.methods)} {route.path}"


def _refuse_replies(engine: Engine) -> None:
    """Make the database itself refuse to store a chat message (a trigger, no mock)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'this database refuses messages'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_message BEFORE INSERT ON messages "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_message()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_message BEFORE INSERT ON messages "
                    "BEGIN SELECT RAISE(ABORT, 'this database refuses messages'); END"
                )
            )


async def test_a_stream_that_fails_after_it_started_ends_with_an_error_event(
    make_container: Factory,
) -> None:
    container = make_container()
    _refuse_replies(container.engine)
    async with client(container, browser()) as http:
        response = await http.post(
            "/api/chat", json={"message": "How should green tea be brewed?", "stream": True}
        )
        assert response.status_code == 200
        events = sse_events(response.text.splitlines())
    names = [name for name, _ in events]
    assert names[0] == "delta" and "answer" not in names, names
    assert names[-1] == "error" and names.count("error") == 1, names
    error = events[-1][1]
    assert set(error) == {"detail", "error_code", "timestamp"}
    assert error["error_code"] == "PROCESSING_ERROR"
    assert "refuses" not in error["detail"]  # the database's message stays in the log


async def _chunks(head: bytes, size: int, tail: bytes) -> AsyncIterator[bytes]:
    yield head
    for _ in range(size // 65536):
        yield b"a" * 65536
    yield tail


async def test_an_oversize_chunked_upload_is_413(make_container: Factory) -> None:
    container = make_container(max_upload_mb=1)
    boundary = secrets.token_hex(8)
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=big.md\r\n"
        "Content-Type: text/markdown\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    async with client(container, ADMIN) as http:
        response = await http.post(
            "/api/documents",
            content=_chunks(head, 2 * 1024 * 1024, tail),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 413, response.text
        assert response.json()["error_code"] == "FILE_TOO_LARGE"
        listed = (await http.get("/api/documents")).json()
        assert "big.md" not in [d["source"] for d in listed]


@contextmanager
def _serving(container: Container) -> Iterator[str]:
    """``create_app(container)`` in a real uvicorn server (httptools, keep-alive) on a free port."""
    config = uvicorn.Config(
        create_app(container), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _local_port(response: httpx.Response) -> int:
    """The client's port of the connection ``response`` came on (read while it is open)."""
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


def test_a_refused_request_leaves_the_connection_usable(make_container: Factory) -> None:
    container = make_container()
    _refuse_replies(container.engine)
    ports = []
    with _serving(container) as base, httpx.Client(base_url=base, headers=browser()) as http:
        first = http.get("/api/documents/a%00b")
        ports.append(_local_port(first))
        assert first.status_code == 422 and first.json()["error_code"] == "INVALID_INPUT"
        second = http.post("/api/chat", json={"message": "green tea\x00"})
        ports.append(_local_port(second))
        assert second.status_code == 422 and second.json()["error_code"] == "INVALID_INPUT"
        assert second.json()["detail"] == "message: text with a NUL character is not accepted"
        # Refused before its body was read: the server still finds the next request.
        unread = http.post("/api/messages/a%00b/feedback", json={"rating": 1, "x": "y" * 50_000})
        ports.append(_local_port(unread))
        assert unread.status_code == 422
        question = {"message": "How should green tea be brewed?", "stream": True}
        with http.stream("POST", "/api/chat", json=question) as streamed:
            events = sse_events(streamed.iter_lines())
            ports.append(_local_port(streamed))
        assert events[-1][0] == "error", [name for name, _ in events]
        health = http.get("/api/health")
        ports.append(_local_port(health))
        assert health.status_code == 200
    assert len(set(ports)) == 1, f"each request should reuse one keep-alive connection: {ports}"
