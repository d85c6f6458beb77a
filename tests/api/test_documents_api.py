"""Uploads, listing, deletion, re-index, health and metrics through the ASGI app."""

from __future__ import annotations

import asyncio
import io
import zipfile

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def client(admin_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Uploads, deletions and re-indexing are the operator's: these tests act as admin."""
    return admin_client


async def wait_for_status(client: httpx.AsyncClient, document_id: str) -> dict[str, object]:
    for _ in range(200):
        doc = (await client.get(f"/api/documents/{document_id}")).json()
        if doc["status"] != "processing":
            return doc
        await asyncio.sleep(0.05)
    raise AssertionError("ingestion did not finish")


async def test_upload_becomes_searchable_then_delete_removes_it(client: httpx.AsyncClient) -> None:
    text = b"# Harbour rules\n\n## Mooring\n\nBoats moor stern-to at the quay of Port Ellwyn.\n"
    response = await client.post(
        "/api/documents", files={"file": ("harbour.md", text, "text/markdown")}
    )
    assert response.status_code == 202, response.text
    document_id = response.json()["id"]
    doc = await wait_for_status(client, document_id)
    assert (
        doc["status"] == "completed" and doc["chunk_count"] >= 1 and len(doc["content_hash"]) == 64
    )

    hits = (await client.post("/api/search", json={"query": "Port Ellwyn mooring"})).json()[
        "results"
    ]
    assert hits[0]["source"] == "harbour.md" and hits[0]["url"] == "/read/harbour.md#mooring"
    assert document_id in [d["id"] for d in (await client.get("/api/documents")).json()]

    assert (await client.delete(f"/api/documents/{document_id}")).status_code == 204
    assert (await client.get(f"/api/documents/{document_id}")).status_code == 404
    hits = (await client.post("/api/search", json={"query": "Port Ellwyn mooring"})).json()[
        "results"
    ]
    assert all(h["source"] != "harbour.md" for h in hits)
    assert (await client.delete(f"/api/documents/{document_id}")).status_code == 404


async def test_a_corrupt_upload_is_listed_as_failed_with_its_reason(
    client: httpx.AsyncClient,
) -> None:
    broken = b"%PDF-1.4\nthis is not really a pdf"
    response = await client.post("/api/documents", files={"file": ("broken.pdf", broken)})
    assert response.status_code == 202
    doc = await wait_for_status(client, response.json()["id"])
    assert doc["status"] == "failed" and doc["error"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n"),
        ("fake.pdf", b"MZ\x90\x00 an executable"),
        ("fake.docx", b"plain text pretending"),
        ("binary.txt", b"abc\x00\x01\x02"),
        ("noextension", b"hello"),
    ],
)
async def test_unsupported_or_disguised_uploads_get_415(
    client: httpx.AsyncClient, name: str, data: bytes
) -> None:
    before = len((await client.get("/api/documents")).json())
    response = await client.post("/api/documents", files={"file": (name, data)})
    assert response.status_code == 415, response.text
    assert response.json()["error_code"] == "UNSUPPORTED_FORMAT"
    assert len((await client.get("/api/documents")).json()) == before


async def test_too_large_upload_gets_413(client: httpx.AsyncClient) -> None:
    big = b"word " * (300 * 1024)  # 1.5 MB against the 1 MB limit of the test settings
    response = await client.post("/api/documents", files={"file": ("big.txt", big)})
    assert response.status_code == 413
    assert response.json()["error_code"] == "FILE_TOO_LARGE"


async def test_zip_bomb_docx_fails_with_a_reason(client: httpx.AsyncClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (300 * 1024 * 1024))
    response = await client.post("/api/documents", files={"file": ("bomb.docx", buffer.getvalue())})
    assert response.status_code == 202
    doc = await wait_for_status(client, response.json()["id"])
    assert doc["status"] == "failed" and "unpack" in str(doc["error"])


async def test_reindex_accepts_and_keeps_documents_searchable(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/documents/reindex")
    assert response.status_code == 202 and response.json()["documents"] >= 3
    hits = (await client.post("/api/search", json={"query": "fog horn"})).json()["results"]
    assert hits[0]["source"] == "lighthouse.md"


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    simple = (await client.get("/api/health")).json()
    assert simple["status"] == "healthy" and simple["environment"] == "test" and simple["version"]
    # The bare /health a probe or an operator tries on the backend's port answers the same.
    bare = (await client.get("/health")).json()
    assert bare["status"] == "healthy" and bare["version"] == simple["version"]
    detailed = await client.get("/api/health/detailed")
    assert detailed.status_code == 200
    body = detailed.json()
    assert body["services"] == {
        "database": "healthy",
        "vector_db": "healthy",
        "ai_service": "healthy",
        "cache": "healthy",
    }
    assert set(body["metrics"]) == {"response_time", "memory_usage", "cpu_usage"}
    # Seconds and fractions of the limits, as the operator's runbook reads them.
    metrics = body["metrics"]
    assert 0 < metrics["response_time"] < 2.5
    assert 0 < metrics["memory_usage"] <= 1 and 0 <= metrics["cpu_usage"] <= 1


async def test_metrics_use_route_templates(client: httpx.AsyncClient) -> None:
    await client.get("/api/sessions/abc")
    text = (await client.get("/api/metrics")).text
    assert 'path="/api/sessions/{session_id}"' in text
    assert "/api/sessions/abc" not in text
    assert "http_request_duration_seconds_bucket" in text


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/api/chat" in spec["paths"] and "/api/documents" in spec["paths"]
