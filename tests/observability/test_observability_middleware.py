"""ObservabilityMiddleware on a real FastAPI app: route labels, request ids, log lines, SSE."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import REGISTRY

from rag_chatbot.observability.logging import configure_logging, request_id_var
from rag_chatbot.observability.middleware import ObservabilityMiddleware

pytestmark = pytest.mark.anyio

app_log = logging.getLogger("rag_chatbot.tests.endpoint")


def _build_app(static_dir: Path) -> FastAPI:
    items = APIRouter(prefix="/items")

    @items.get("/{item_id}")
    def get_item(item_id: int) -> dict[str, object]:
        app_log.info("item served", extra={"item_id": item_id})
        return {"item_id": item_id, "request_id": request_id_var.get()}

    api = APIRouter(prefix="/v1")
    api.include_router(items)

    sub = FastAPI()

    @sub.get("/pages/{page}")
    def get_page(page: str) -> dict[str, str]:
        return {"page": page}

    app = FastAPI()
    # Nested include prefixes: FastAPI >= 0.16x leaves only "/items/{item_id}" in scope["route"].
    app.include_router(api, prefix="/api")

    @app.get("/later")
    def later(tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(time.sleep, 0.5)
        return {"queued": "yes"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    app.mount("/sub", sub)
    app.mount("/static", StaticFiles(directory=static_dir))
    app.add_middleware(ObservabilityMiddleware)
    return app


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body {}", encoding="utf-8")
    return _build_app(static)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _count(method: str, path: str, status: str) -> float:
    labels = {"method": method, "path": path, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def _observations(method: str, path: str) -> float:
    labels = {"method": method, "path": path}
    return REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0.0


@pytest.mark.parametrize(
    ("url", "template", "status"),
    [
        ("/api/v1/items/42", "/api/v1/items/{item_id}", "200"),
        ("/api/v1/items/not-a-number", "/api/v1/items/{item_id}", "422"),
        ("/sub/pages/intro", "/sub/pages/{page}", "200"),
        ("/static/app.css", "/static/{path}", "200"),
        ("/no/such/page", "<unmatched>", "404"),
        ("/boom", "/boom", "500"),
    ],
)
async def test_requests_are_counted_under_the_route_template(
    client: httpx.AsyncClient, url: str, template: str, status: str
) -> None:
    before, observed = _count("GET", template, status), _observations("GET", template)
    response = await client.get(url)
    assert str(response.status_code) == status
    assert _count("GET", template, status) == before + 1
    assert _observations("GET", template) == observed + 1
    assert REGISTRY.get_sample_value("http_requests_total", {"path": url}) is None


async def test_wrong_method_is_labelled_with_the_route(client: httpx.AsyncClient) -> None:
    before = _count("DELETE", "/api/v1/items/{item_id}", "405")
    assert (await client.delete("/api/v1/items/1")).status_code == 405
    assert _count("DELETE", "/api/v1/items/{item_id}", "405") == before + 1


async def test_request_id_is_echoed_when_sane_and_generated_otherwise(
    client: httpx.AsyncClient,
) -> None:
    echoed = await client.get("/api/v1/items/1", headers={"X-Request-ID": "abc.DEF_1-2"})
    assert echoed.headers["X-Request-ID"] == "abc.DEF_1-2"
    assert echoed.json()["request_id"] == "abc.DEF_1-2"

    for bad in ("has space", "x" * 65, "semi;colon", ""):
        response = await client.get("/api/v1/items/1", headers={"X-Request-ID": bad})
        generated = response.headers["X-Request-ID"]
        assert generated != bad and _MINTED.fullmatch(generated)

    fresh = await client.get("/no/such/page")
    assert _MINTED.fullmatch(fresh.headers["X-Request-ID"])
    assert request_id_var.get() is None


# No digits (never "401" or "403" in access.log) and no vowels (never "error" or "auth").
_MINTED = re.compile(r"[bcdfghjklmnpqrstvwxz]{26}")


def test_minted_request_ids_are_unique_and_spell_nothing() -> None:
    from rag_chatbot.observability.middleware import new_request_id

    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(_MINTED.fullmatch(i) for i in ids)


@pytest.mark.usefixtures("isolated_logging")
async def test_access_log_line_and_app_log_carry_the_request_id(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    configure_logging(logs, "INFO", "json")
    response = await client.get("/api/v1/items/7?token=s3cr3t&q=1", headers={"X-Request-ID": "r-1"})
    assert response.status_code == 200

    access_text = (logs / "access.log").read_text(encoding="utf-8")
    assert "s3cr3t" not in access_text and "?" not in access_text
    (access,) = [json.loads(line) for line in access_text.splitlines()]
    assert access["event"] == "http_request"
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/items/7"
    assert access["route"] == "/api/v1/items/{item_id}"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert access["request_id"] == "r-1"
    assert access["client"] == "127.0.0.1"

    app_lines = [json.loads(line) for line in (logs / "app.log").read_text().splitlines()]
    (app_line,) = [line for line in app_lines if line["logger"] == app_log.name]
    assert app_line == {**app_line, "event": "item served", "item_id": 7, "request_id": "r-1"}
    (timed,) = [line for line in app_lines if line["logger"] == "rag_chatbot.http"]
    assert timed["event"] == "response_time" and timed["request_id"] == "r-1"
    assert {k: timed[k] for k in ("method", "path", "route", "status")} == {
        "method": "GET",
        "path": "/api/v1/items/7",
        "route": "/api/v1/items/{item_id}",
        "status": 200,
    }
    assert timed["duration_ms"] == access["duration_ms"]


@pytest.mark.usefixtures("isolated_logging")
async def test_text_lines_of_a_request_in_app_log_and_access_log(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    configure_logging(logs, "INFO", "text")
    response = await client.get("/api/v1/items/7?token=s3cr3t", headers={"X-Request-ID": "r-2"})
    assert response.status_code == 200
    await client.get("/sub/pages/a%20b%22c")

    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    lines = (logs / "app.log").read_text(encoding="utf-8").splitlines()
    item, timed, page = [line for line in lines if " INFO httpx " not in line]  # the client's
    assert re.fullmatch(
        ts + r"\.\d{3}Z INFO rag_chatbot.tests.endpoint \"item served\" "
        r"item_id=7 request_id=r-2",
        item,
    )
    assert re.fullmatch(
        ts + r"\.\d{3}Z INFO rag_chatbot.http response_time \d+ method=GET path=/api/v1/items/7 "
        r"route=/api/v1/items/\{item_id\} status=200 request_id=r-2",
        timed,
    )
    assert 'path="/sub/pages/a b\\"c" route=/sub/pages/{page} status=200' in page
    access, encoded = (logs / "access.log").read_text(encoding="utf-8").splitlines()
    assert "s3cr3t" not in access
    assert re.fullmatch(ts + r'Z 127.0.0.1 "GET /api/v1/items/7 HTTP/1.1" 200 \d+ r-2', access)
    assert access.split()[6] == timed.split()[4]  # the same whole milliseconds
    assert re.fullmatch(
        ts + r'Z 127.0.0.1 "GET /sub/pages/a%20b%22c HTTP/1.1" 200 \d+ \w+', encoded
    )


async def test_streamed_chunks_are_forwarded_before_the_body_ends(tmp_path: Path) -> None:
    release, first_chunk_sent = anyio.Event(), anyio.Event()
    finished = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal finished
        yield b"data: first\n\n"
        await release.wait()
        yield b"data: last\n\n"
        finished = True

    app = FastAPI()

    @app.get("/events")
    async def events() -> StreamingResponse:
        return StreamingResponse(body(), media_type="text/event-stream")

    middleware = ObservabilityMiddleware(app)
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk_sent.set()

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/events",
        "raw_path": b"/events",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    before = _count("GET", "/events", "200")
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(middleware, scope, receive, send)
        with anyio.fail_after(5):
            await first_chunk_sent.wait()
        # The first event reached the client while the generator is still suspended.
        assert not finished
        assert _count("GET", "/events", "200") == before
        release.set()
    assert finished
    start = sent[0]
    assert start["type"] == "http.response.start"
    assert (b"x-request-id", start["headers"][-1][1]) in start["headers"]
    bodies = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    assert b"".join(bodies) == b"data: first\n\ndata: last\n\n"
    assert _count("GET", "/events", "200") == before + 1


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
async def test_non_http_scopes_pass_through(scope_type: str) -> None:
    calls: list[tuple[object, object, object]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        calls.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    scope = {"type": scope_type, "path": "/ws"}
    await ObservabilityMiddleware(inner)(scope, receive, send)
    assert calls == [(scope, receive, send)]


async def test_lifespan_of_a_real_app_runs_through_the_middleware() -> None:
    started: list[bool] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started.append(True)
        yield

    app = FastAPI(lifespan=lifespan)

    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    replies: list[str] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        replies.append(message["type"])

    await ObservabilityMiddleware(app)(
        {"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send
    )
    assert started == [True]
    assert replies == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.usefixtures("isolated_logging")
async def test_response_time_ends_with_the_response_not_its_background_tasks(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    configure_logging(tmp_path, "INFO", "json")
    started = time.perf_counter()
    assert (await client.get("/later")).status_code == 200
    assert time.perf_counter() - started >= 0.5  # the test client waits for the task too
    (access,) = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]
    assert access["duration_ms"] < 400
