"""The OpenAPI spec tells the truth: the error body and statuses it documents, the constraints.

The whole spec is checked against the running service by tests/security/test_spec_gate.py;
these are the quick, targeted checks of what the spec promises.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from testing_secrets import TEST_ADMIN_TOKEN

from rag_chatbot.api.app import create_app
from rag_chatbot.api.schemas import ErrorBody, OpenAIErrorBody
from rag_chatbot.auth.users import UserRepository
from rag_chatbot.container import Container

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def spec(api_container: Container) -> dict[str, Any]:
    document: dict[str, Any] = create_app(api_container).openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_error_response_has_the_contract_body(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(spec)  # FastAPI's 422, never sent
    for method, path, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/api/health/detailed", "503"):
                continue
            body = "OpenAIErrorBody" if path.startswith("/v1/") else "ErrorBody"
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{body}"}, (method, path, status)
    error = spec["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"detail", "error_code", "timestamp"}
    assert error["properties"]["detail"]["type"] == "string"


def test_each_operation_documents_the_statuses_it_answers(spec: dict[str, Any]) -> None:
    documented = {(method, path): set(op["responses"]) for method, path, op in _operations(spec)}
    for method, path in [
        ("POST", "/api/documents"),
        ("DELETE", "/api/documents/{document_id}"),
        ("POST", "/api/documents/reindex"),
        ("GET", "/api/admin/cache/stats"),
        ("POST", "/api/admin/cache/clear"),
    ]:
        assert {"401", "403", "429"} <= documented[method, path], (method, path)
    assert {"413", "415"} <= documented["POST", "/api/documents"]
    for method, path in documented:
        if "{" in path:
            assert "404" in documented[method, path], (method, path)
        assert "422" in documented[method, path], (method, path)
    assert {"401", "404", "429", "503"} <= documented["POST", "/api/chat"]
    assert {"403", "429"} <= documented["POST", "/api/auth/register"]
    assert {"401", "429"} <= documented["POST", "/api/auth/login"]
    assert "429" not in documented["GET", "/api/health"]  # never limited


async def test_a_422_says_what_the_spec_says(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/search", json={"query": "tea", "top_k": True})
    assert response.status_code == 422
    body = ErrorBody.model_validate(response.json())
    assert body.error_code == "INVALID_INPUT" and "top_k" in body.detail


@pytest.mark.parametrize("top_k", [True, "3", 2.5, 0, 51])
async def test_top_k_is_an_integer_from_1_to_50(client: httpx.AsyncClient, top_k: object) -> None:
    response = await client.post("/api/search", json={"query": "tea", "top_k": top_k})
    assert response.status_code == 422, response.text


async def test_an_integral_number_is_an_integer(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/search", json={"query": "tea", "top_k": 3.0})
    assert response.status_code == 200 and len(response.json()["results"]) <= 3


async def test_booleans_are_not_numbers_elsewhere_either(client: httpx.AsyncClient) -> None:
    rated = await client.post("/api/messages/some-id/feedback", json={"rating": True})
    assert rated.status_code == 422 and "rating" in rated.json()["detail"]
    warm = await client.post("/api/admin/cache/warm", json={"limit": True}, headers=ADMIN)
    assert warm.status_code == 422 and "limit" in warm.json()["detail"]
    stream = await client.post("/api/chat", json={"message": "tea?", "stream": 1})
    assert stream.status_code == 422 and "stream" in stream.json()["detail"]


async def test_v1_errors_carry_openais_object_even_for_an_unreadable_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/chat/completions",
        content=b"\x80 is not UTF-8",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    body = OpenAIErrorBody.model_validate(response.json())
    assert body.error.code == "INVALID_INPUT"


def test_every_name_the_spec_allows_can_register(spec: dict[str, Any]) -> None:
    rules = spec["components"]["schemas"]["Registration"]["properties"]
    assert (rules["password"]["minLength"], rules["password"]["maxLength"]) == (8, 256)
    pattern = rules["username"]["pattern"]

    @given(st.from_regex(pattern.removesuffix("$") + r"\Z", fullmatch=True))
    def accepted(name: str) -> None:
        assert UserRepository.normalize(name) == name.lower()

    accepted()


@pytest.mark.parametrize("name", ["ab", " alice", "-alice", "al ice", "a" * 65, "ålice"])
async def test_names_the_spec_refuses_are_refused(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post(
        "/api/auth/register", json={"username": name, "password": "long enough"}
    )
    assert response.status_code == 422 and "username" in response.json()["detail"]
