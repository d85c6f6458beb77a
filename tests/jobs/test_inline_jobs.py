"""The Jobs API without a broker: jobs run in the API process, through the same handlers a
worker uses (real model, embedded index, SQLite)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.api.app import create_app
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def container(tmp_path: Path, onnx_embedder: Embedder) -> Iterator[Container]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
        admin_token=TEST_ADMIN_TOKEN,
        rate_limit_default="10000/minute",
    )
    built = build_container(settings, embedder=onnx_embedder)
    yield built
    built.close()


@pytest.fixture
def crawler_container(tmp_path: Path, onnx_embedder: Embedder) -> Iterator[Container]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "crawl-data",
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
        admin_token=TEST_ADMIN_TOKEN,
        crawl_allowed_hosts="127.0.0.1",
        crawl_rate=1000,
    )
    built = build_container(settings, embedder=onnx_embedder)
    yield built
    built.close()


@pytest.fixture
async def http(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=ADMIN) as c:
        yield c


@pytest.fixture
def corpus(tmp_path: Path, fixture_corpus: Path) -> Path:
    copy = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, copy)
    (copy / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    return copy


async def submitted(http: httpx.AsyncClient, body: dict[str, object]) -> dict[str, Any]:
    """Submit a job and wait for its end."""
    response = await http.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    return await ended(http, response.json()["id"])


async def ended(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = (await http.get(f"/api/jobs/{job_id}")).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job did not end: {job}")


async def test_a_folder_job_indexes_it_and_reports_the_one_failure(
    http: httpx.AsyncClient, corpus: Path
) -> None:
    response = await http.post("/api/jobs", json={"kind": "ingest", "path": str(corpus)})
    assert response.status_code == 202, response.text
    submitted = response.json()
    assert submitted["kind"] == "ingest" and submitted["target"] == str(corpus)
    job = await ended(http, submitted["id"])
    assert job["state"] == "done" and job["error"] is None
    assert job["documents_total"] == job["documents_done"] == 4
    assert job["counts"]["added"] == 3 and job["counts"]["failed"] == 1
    (failure,) = job["failures"]
    assert failure["source"] == "broken.pdf" and failure["reason"]
    assert job["passages"] > 3 and job["eta_seconds"] is None
    hits = (await http.post("/api/search", json={"query": "fog horn"})).json()["results"]
    assert hits[0]["source"] == "lighthouse.md"
    listed = (await http.get("/api/jobs")).json()
    assert [j["id"] for j in listed] == [job["id"]]

    # Again: unchanged files are not embedded again; a file gone is pruned.
    (corpus / "tea.txt").unlink()
    again = await ended(
        http,
        (await http.post("/api/jobs", json={"kind": "ingest", "path": str(corpus)})).json()["id"],
    )
    assert again["counts"]["unchanged"] == 2 and again["counts"]["removed"] == 1
    sources = {d["source"] for d in (await http.get("/api/documents")).json()}
    assert "tea.txt" not in sources and "lighthouse.md" in sources

    reindex = await http.post("/api/jobs", json={"kind": "reindex"})
    assert reindex.status_code == 202
    redone = await ended(http, reindex.json()["id"])
    assert redone["kind"] == "reindex" and redone["state"] == "done"
    assert redone["counts"]["updated"] == 2 and redone["documents_total"] == 2


async def test_an_upload_answers_with_its_job(http: httpx.AsyncClient) -> None:
    text = b"# Harbour\n\n## Mooring\n\nBoats moor stern-to at the quay of Port Ellwyn.\n"
    response = await http.post("/api/documents", files={"file": ("harbour.md", text)})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "processing" and body["job"]["state"] in ("queued", "running", "done")
    job = await ended(http, body["job"]["id"])
    assert job["kind"] == "upload" and job["target"] == "harbour.md"
    assert job["state"] == "done" and job["counts"]["added"] == 1
    document = (await http.get(f"/api/documents/{body['id']}")).json()
    assert document["status"] == "completed" and document["chunk_count"] == job["passages"]

    broken = await http.post("/api/documents", files={"file": ("broken.pdf", b"%PDF-1.4\nno")})
    failed = await ended(http, broken.json()["job"]["id"])
    assert failed["state"] == "failed" and failed["failures"][0]["source"] == "broken.pdf"
    document = (await http.get(f"/api/documents/{broken.json()['id']}")).json()
    assert document["status"] == "failed" and document["error"] == failed["error"]


async def test_a_path_that_does_not_exist_fails_the_job_with_the_reason(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    job = await ended(
        http,
        (await http.post("/api/jobs", json={"kind": "ingest", "path": str(missing)})).json()["id"],
    )
    assert job["state"] == "failed" and job["error"] == "no such file or directory"
    assert job["failures"] == [{"source": str(missing), "reason": "no such file or directory"}]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "ingest"},
        {"kind": "ingest", "path": "relative/docs"},
        {"kind": "vacuum"},
        {"kind": "ingest", "path": "/srv/docs", "max_pages": 3},
        {"kind": "reindex", "extra": 1},
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    http: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await http.post("/api/jobs", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error_code"] == "INVALID_INPUT"


async def test_jobs_are_the_admins_and_unknown_ones_are_404(
    http: httpx.AsyncClient, container: Container, corpus: Path
) -> None:
    anonymous = await http.post(
        "/api/jobs", json={"kind": "reindex"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    assert (await http.get("/api/jobs", headers={"Authorization": ""})).status_code == 401
    assert (await http.get("/api/jobs/no-such-job")).status_code == 404
    assert (await http.delete("/api/jobs/no-such-job")).status_code == 404
    # A job that ended stays as it ended when cancelled.
    job = await ended(
        http,
        (await http.post("/api/jobs", json={"kind": "ingest", "path": str(corpus)})).json()["id"],
    )
    cancelled = await http.delete(f"/api/jobs/{job['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "done"


async def test_a_site_job_crawls_it_counting_pages_as_they_come(
    crawler_container: Container, fixture_corpus: Path
) -> None:
    from site_server import serve_site

    site_pages = fixture_corpus.parent / "loaders"
    transport = httpx.ASGITransport(app=create_app(crawler_container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=ADMIN) as http:
        with serve_site(site_pages) as site:
            site.add("broken.pdf", b"%PDF-1.4 not a pdf", "application/pdf")
            job = await submitted(http, {"kind": "ingest", "path": site.url, "max_pages": 50})
            assert job["state"] == "done" and job["target"] == site.url
            assert job["documents_done"] == job["documents_total"] >= 3
            assert job["counts"]["added"] >= 2 and job["passages"] > 0
            assert any(f["source"].endswith("broken.pdf") for f in job["failures"])
            hits = (await http.post("/api/search", json={"query": "page"})).json()["results"]
            assert hits and all(h["source"].startswith(site.url) for h in hits)
            # The site is recorded as a crawl made from the API would record it.
            assert [s.url for s in crawler_container.sites.list_sites()] == [site.url]
