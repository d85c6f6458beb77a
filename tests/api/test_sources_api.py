"""Websites through the API: /api/sources crawls a real site on 127.0.0.1 in the background.

The site is ``tests/site_server.py`` serving pages of the docs-faq SQLite manual; the crawl goes
through the real pipeline, model and stores; the scheduler is the app's own, started by its
lifespan, and re-crawls a due site with no request from the test.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from site_server import Site, serve_site
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.api.app import create_app
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.domain import Chunk, IndexedChunk
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SQLITE = Path(__file__).resolve().parents[3] / "shared" / "eval" / "docs-faq" / "corpus" / "sqlite"
PAGES = ("autoinc.html", "lang_vacuum.html")
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
HARBOUR = (
    "<html><head><title>Harbour</title></head><body><h1 id='moor'>Mooring</h1>"
    "<p>Boats moor stern-to at the quay of Port Ellwyn, {when}.</p></body></html>"
)


@pytest.fixture(scope="module")
def sources_container(
    tmp_path_factory: pytest.TempPathFactory, onnx_embedder: Embedder
) -> Iterator[Container]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("sources") / "data",
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
        admin_token=TEST_ADMIN_TOKEN,
        rate_limit_default="10000/minute",
        rate_limit_auth="10000/minute",
        # The test sites are on loopback, which a crawl refuses unless the operator allows it.
        crawl_allowed_hosts="127.0.0.1",
        crawl_rate=200.0,
        crawl_scheduler_tick=0.2,
    )
    with closing(build_container(settings, embedder=onnx_embedder)) as built:
        yield built


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    folder = tmp_path / "site"
    folder.mkdir()
    for name in PAGES:
        shutil.copy(SQLITE / name, folder / name)
    with serve_site(folder) as server:
        yield server


@pytest.fixture
def small_site() -> Iterator[Site]:
    """One page that changes: cheap to crawl again."""
    with serve_site() as server:
        server.add("harbour.html", HARBOUR.format(when="in summer"))
        yield server


@pytest.fixture
async def admin(sources_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(create_app(sources_container), ADMIN) as http:
        yield http


def _client(app: Any, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers or {})


async def _finished(http: httpx.AsyncClient, source_id: str, after: str | None = None) -> Any:
    """The source once its run has ended (one that finished after ``after``, if given)."""
    for _ in range(1200):
        source = (await http.get(f"/api/sources/{source_id}")).json()
        done = source["status"] in ("completed", "failed")
        if done and (after is None or _when(source["finished_at"]) > _when(after)):
            return source
        await asyncio.sleep(0.05)
    raise AssertionError(f"the crawl did not end: {source}")


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


async def _search(http: httpx.AsyncClient, query: str) -> list[str]:
    response = await http.post("/api/search", json={"query": query, "top_k": 10})
    return [hit["source"] for hit in response.json()["results"]]


async def test_a_source_is_crawled_in_the_background_then_searched_read_and_deleted(
    admin: httpx.AsyncClient, site: Site, sources_container: Container
) -> None:
    container = sources_container
    chunks_before = container.repository.all_chunk_ids()
    response = await admin.post(
        "/api/sources", json={"url": site.url + "/", "max_pages": 50, "depth": 3}
    )
    assert response.status_code == 202, response.text
    added = response.json()
    assert added["status"] == "running" and added["url"] == site.url + "/"
    assert added["options"] == {"include": [], "exclude": [], "max_pages": 50, "max_depth": 3}

    source = await _finished(admin, added["id"])
    pages = {site.url + "/"} | {site.url_of(name) for name in PAGES}
    assert source["status"] == "completed" and source["error"] is None, source
    assert source["report"]["added"] == len(pages) and source["report"]["failed"] == 0
    assert source["every_seconds"] is None and source["next_run_at"] is None
    assert _when(source["started_at"]) <= _when(source["finished_at"])
    assert added["id"] in [s["id"] for s in (await admin.get("/api/sources")).json()]
    assert site.url_of("autoinc.html") in await _search(admin, "AUTOINCREMENT keyword rowid")

    # The library lists each page, and its link opens the page in the reader.
    library = (await admin.get("/")).text
    link = re.search(r'href="(/read/[^"#]*autoinc\.html)"', library)
    assert link, "the library does not list the crawled page"
    read = await admin.get(link.group(1))
    assert read.status_code == 200 and "AUTOINCREMENT" in read.text
    assert f'data-source="{site.url_of("autoinc.html")}"' in read.text

    # Again: nothing changed, nothing re-embedded.
    again = await admin.post(f"/api/sources/{added['id']}/crawl")
    assert again.status_code == 202 and again.json()["status"] == "running"
    source = await _finished(admin, added["id"], after=source["finished_at"])
    assert source["report"]["unchanged"] == len(pages) and source["report"]["added"] == 0

    deleted = await admin.delete(f"/api/sources/{added['id']}")
    assert deleted.status_code == 204
    assert (await admin.get(f"/api/sources/{added['id']}")).status_code == 404
    assert not {row.source for row in container.repository.list_documents()} & pages
    assert container.repository.all_chunk_ids() == chunks_before
    assert container.store.ids() == container.repository.all_chunk_ids()
    assert not set(await _search(admin, "AUTOINCREMENT keyword rowid")) & pages
    assert (await admin.delete(f"/api/sources/{added['id']}")).status_code == 404
    assert (await admin.post(f"/api/sources/{added['id']}/crawl")).status_code == 404


async def test_a_site_being_crawled_answers_409_until_its_run_ends(
    admin: httpx.AsyncClient, small_site: Site
) -> None:
    small_site.slow("harbour.html", 3.0)
    url = small_site.url_of("harbour.html")
    first = await admin.post("/api/sources", json={"url": url})
    assert first.status_code == 202, first.text
    source_id = first.json()["id"]

    second = await admin.post("/api/sources", json={"url": url, "max_pages": 1, "every": "1h"})
    assert second.status_code == 409, second.text
    assert "being crawled already" in second.json()["detail"]
    assert (await admin.post(f"/api/sources/{source_id}/crawl")).status_code == 409
    assert (await admin.delete(f"/api/sources/{source_id}")).status_code == 409
    running = (await admin.get(f"/api/sources/{source_id}")).json()
    assert running["status"] == "running" and running["every_seconds"] is None  # unchanged

    done = await _finished(admin, source_id)
    assert done["status"] == "completed" and done["report"]["added"] == 1
    assert (await admin.delete(f"/api/sources/{source_id}")).status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://127.0.0.1/"}, "url"),
        ({"url": "127.0.0.1/docs/"}, "url"),
        ({"url": "http:///nohost"}, "url"),
        ({"url": "http://127.0.0.1:99999/"}, "url"),
        ({"url": "SITE/", "include": "/guide/*"}, "include"),
        ({"url": "SITE/", "include": [1]}, "include"),
        ({"url": "SITE/", "exclude": [""]}, "exclude"),
        ({"url": "SITE/", "max_pages": 0}, "max_pages"),
        ({"url": "SITE/", "max_pages": True}, "max_pages"),
        ({"url": "SITE/", "depth": -1}, "depth"),
        ({"url": "SITE/", "every": "soon"}, "every"),
        ({"url": "SITE/", "every": "30s"}, "every"),
        ({"url": "SITE/", "every": 3600}, "every"),
        ({"url": "SITE/", "schedule": "24h"}, "schedule"),
    ],
)
async def test_bad_input_is_refused_in_one_line_and_nothing_is_stored(
    admin: httpx.AsyncClient, small_site: Site, body: dict[str, Any], field: str
) -> None:
    before = (await admin.get("/api/sources")).json()
    sent = {**body, "url": body["url"].replace("SITE", small_site.url)}
    response = await admin.post("/api/sources", json=sent)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error_code"] == "INVALID_INPUT" and field in error["detail"]
    assert "\n" not in error["detail"]
    assert (await admin.get("/api/sources")).json() == before
    assert small_site.hits == []


async def test_a_body_that_is_not_json_is_refused(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/api/sources", content=b"{url:", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["error_code"] == "INVALID_INPUT"


async def test_only_the_admin_may_use_sources(
    sources_container: Container, small_site: Site
) -> None:
    sources_container.users.create("sources-reader", "a reader's password")
    app = create_app(sources_container)
    async with _client(app) as anonymous, _client(app) as reader:
        login = await reader.post(
            "/api/auth/login",
            json={"username": "sources-reader", "password": "a reader's password"},
        )
        reader.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        calls = [
            ("POST", "/api/sources", {"url": small_site.url + "/"}),
            ("GET", "/api/sources", None),
            ("GET", "/api/sources/some-id", None),
            ("POST", "/api/sources/some-id/crawl", None),
            ("DELETE", "/api/sources/some-id", None),
        ]
        for method, path, body in calls:
            refused = await anonymous.request(method, path, json=body)
            assert refused.status_code == 401, (method, path)
            forbidden = await reader.request(method, path, json=body)
            assert forbidden.status_code == 403, (method, path)
    assert small_site.hits == []


async def test_the_scheduler_recrawls_a_due_site_and_updates_a_changed_page(
    sources_container: Container, small_site: Site
) -> None:
    app = create_app(sources_container)
    async with _client(app, ADMIN) as admin:
        url = small_site.url_of("harbour.html")
        added = await admin.post("/api/sources", json={"url": url, "every": "1h"})
        assert added.status_code == 202, added.text
        source = await _finished(admin, added.json()["id"])
        assert source["every_seconds"] == 3600 and source["report"]["added"] == 1
        assert _when(source["next_run_at"]) > _when(source["finished_at"])  # in an hour

        small_site.change("harbour.html", HARBOUR.format(when="in winter only"))
        sources_container.sites.reschedule_now(source["id"])  # the hour has passed
        small_site.reset()
        async with app.router.lifespan_context(app):  # as `serve` starts: the scheduler runs
            again = await _finished(admin, source["id"], after=source["finished_at"])
        assert again["status"] == "completed", again
        assert again["report"]["updated"] == 1 and small_site.count("harbour.html") == 1
        assert _when(again["next_run_at"]) > _when(again["finished_at"])
        hits = (await admin.post("/api/search", json={"query": "Port Ellwyn winter"})).json()
        assert "winter only" in hits["results"][0]["text"]
        assert (await admin.delete(f"/api/sources/{source['id']}")).status_code == 204


async def test_a_shutdown_ends_a_scheduled_crawl_and_leaves_it_due(
    sources_container: Container, small_site: Site
) -> None:
    app = create_app(sources_container)
    async with _client(app, ADMIN) as admin:
        url = small_site.url_of("harbour.html")
        added = await admin.post("/api/sources", json={"url": url, "every": "1d"})
        source = await _finished(admin, added.json()["id"])
        small_site.add("tide.html", HARBOUR.format(when="at high tide"))
        small_site.change("harbour.html", HARBOUR.format(when="<a href='tide.html'>tide</a>"))
        small_site.slow("tide.html", 2.0)
        sources_container.sites.reschedule_now(source["id"])
        async with app.router.lifespan_context(app):
            for _ in range(200):
                if (await admin.get(f"/api/sources/{source['id']}")).json()["status"] == "running":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the scheduler did not start the crawl")
        stopped = (await admin.get(f"/api/sources/{source['id']}")).json()
        assert stopped["status"] == "failed" and "server stopped" in stopped["error"]
        assert _when(stopped["next_run_at"]) <= datetime.now(UTC)  # the next start crawls it
        assert (await admin.delete(f"/api/sources/{source['id']}")).status_code == 204


def test_the_spec_states_the_bounds_the_api_holds(sources_container: Container) -> None:
    # Schema-valid input is accepted (the spec gate posts it): each bound is in the spec.
    spec = create_app(sources_container).openapi()
    fields = spec["components"]["schemas"]["SourceRequest"]["properties"]
    assert {"type": "integer", "minimum": 1, "maximum": 1_000_000} in fields["max_pages"]["anyOf"]
    assert {"type": "integer", "minimum": 0, "maximum": 10_000} in fields["depth"]["anyOf"]
    assert fields["url"]["pattern"].startswith("^[hH][tT][tT][pP]")
    assert any("pattern" in choice for choice in fields["every"]["anyOf"])
    assert "409" in spec["paths"]["/api/sources"]["post"]["responses"]


async def test_a_start_url_that_cannot_be_fetched_ends_the_run_failed_with_why(
    admin: httpx.AsyncClient,
) -> None:
    # Upper-case scheme and a bare number for a host: valid, and resolved to 0.0.0.0, refused.
    added = await admin.post("/api/sources", json={"url": "HTTP://0"})
    assert added.status_code == 202, added.text
    source = await _finished(admin, added.json()["id"])
    assert source["status"] == "failed" and "CRAWL_ALLOWED_HOSTS" in source["error"], source
    assert source["report"] == {}
    assert (await admin.delete(f"/api/sources/{source['id']}")).status_code == 204


async def test_a_crawl_in_the_server_leaves_the_points_of_an_upload_in_flight_alone(
    admin: httpx.AsyncClient, small_site: Site, sources_container: Container
) -> None:
    # An upload writes its points, then commits its rows: in between, no row owns the points.
    container = sources_container
    chunk = Chunk(str(uuid.uuid4()), "in-flight", "in-flight.md", "In flight", (), "", 0, "Tea.")
    vector = container.embedder.embed([chunk.embedding_text])[0]
    sparse = container.lexical.encode_document(chunk.embedding_text)
    container.store.upsert([IndexedChunk(chunk, tuple(vector.tolist()), sparse)])
    try:
        added = await admin.post("/api/sources", json={"url": small_site.url_of("harbour.html")})
        source = await _finished(admin, added.json()["id"])
        assert source["status"] == "completed", source
        assert chunk.id in container.store.ids()
        assert (await admin.delete(f"/api/sources/{source['id']}")).status_code == 204
    finally:
        container.store.delete([chunk.id])
