"""The spec gate: schemathesis over the whole OpenAPI spec, against the app as production runs it.

PostgreSQL (a fresh database), Redis (a key prefix of its own), ``ENVIRONMENT=production`` with a
strong JWT secret and ``ADMIN_TOKEN``, the fixture corpus indexed. Every operation is run three
times: with no token, with a reader's bearer token and with the admin token (uploads, deletions,
re-indexing and cache clearing included: the database is thrown away afterwards). Schemathesis'
examples, coverage (boundary and wrong-type values) and fuzzing phases, positive and negative.

A case fails on a 5xx; a status, content type, body or required header that the spec does not
document for it; a request the spec forbids that is accepted; a request the spec allows that is
refused as invalid; and an error body that is not ``{"detail", "error_code", "timestamp"}`` with
a contract code (../shared/DESIGN.md; ``/v1`` adds OpenAI's ``error`` object).

Bounded: 76 s for the three runs and their set-up on two busy cores, about 1,400 requests a
run (the fuzzing phase draws ``MAX_EXAMPLES`` cases an operation; the coverage phase's cases
are fixed by the spec). Seeded: every run sends the same cases, so a failure reproduces.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from postgres import fresh_database
from schemathesis import checks
from sqlalchemy import Engine
from starlette.testclient import TestClient
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.api.app import create_app
from rag_chatbot.api.protection import PAGE_CSP
from rag_chatbot.config import Settings
from rag_chatbot.container import build_container
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = 30
# The contract (../shared/DESIGN.md), written out here so that the code cannot redefine it.
ERROR_FIELDS = {"detail", "error_code", "timestamp"}
CONTRACT_CODES = {
    "INVALID_INPUT",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "SESSION_NOT_FOUND",
    "FILE_TOO_LARGE",
    "UNSUPPORTED_FORMAT",
    "RATE_LIMIT_EXCEEDED",
    "PROCESSING_ERROR",
    "EMBEDDING_ERROR",
    "CONTEXT_RETRIEVAL_ERROR",
    "AI_SERVICE_ERROR",
    "SERVICE_UNAVAILABLE",
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
]
CHECKS_WITHOUT_ACCEPTANCE = [c for c in CHECKS if c is not checks.positive_data_acceptance]
READER = {"username": "spec-gate-reader", "password": "a reader's long password"}


@pytest.fixture(scope="module")
def production_app(
    tmp_path_factory: pytest.TempPathFactory,
    onnx_embedder: Embedder,
    fixture_corpus: Path,
    postgres_admin: Engine,
    redis_url: str,
) -> Iterator[FastAPI]:
    prefix = f"spec-gate-{uuid.uuid4().hex[:12]}:"
    with fresh_database(postgres_admin, "rag_spec_gate") as database_url:
        container = build_container(
            Settings(  # type: ignore[call-arg]
                data_dir=tmp_path_factory.mktemp("spec-gate") / "data",
                environment="production",
                jwt_secret_key=TEST_JWT_SECRET,
                admin_token=TEST_ADMIN_TOKEN,
                database_url=database_url,
                redis_url=redis_url,
                redis_key_prefix=prefix,
                max_upload_mb=1,
                # Not a test of the limits (tests/security/test_rate_limits.py is): generous, so
                # that the operations run rather than answer 429 (which the spec documents).
                rate_limit_chat="100000/minute",
                rate_limit_auth="100000/minute",
                rate_limit_upload="100000/minute",
                rate_limit_default="100000/minute",
            ),
            embedder=onnx_embedder,
        )
        try:
            container.pipeline.ingest_paths([fixture_corpus])
            yield create_app(container)
        finally:
            container.close()
            store = redis.Redis.from_url(redis_url)
            stale = list(store.scan_iter(match=prefix + "*"))
            if stale:
                store.delete(*stale)


@dataclass
class Caller:
    """Who calls: no token, a reader (logged in again when a case logs it out) or the admin."""

    name: str
    app: FastAPI
    token: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def log_in(self) -> None:
        # No ``with``: the app's lifespan stays unstarted, as schemathesis' calls leave it.
        response = TestClient(self.app).post("/api/auth/login", json=READER)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]


@pytest.fixture(scope="module", params=["no token", "reader", "admin"])
def caller(request: pytest.FixtureRequest, production_app: FastAPI) -> Caller:
    if request.param == "admin":
        return Caller("admin", production_app, TEST_ADMIN_TOKEN)
    found = Caller(request.param, production_app)
    if request.param == "reader":
        created = TestClient(production_app).post("/api/auth/register", json=READER)
        assert created.status_code == 201, created.text
        found.log_in()
    return found


@pytest.fixture(scope="module")
def spec(production_app: FastAPI, caller: Caller) -> schemathesis.BaseSchema:
    """One run a caller (``caller`` parametrizes the test through this fixture)."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", production_app)
    # The three callers are the whole story: no made-up tokens on top of theirs.
    loaded.config.generation.update(with_security_parameters=False)
    # An upload the spec allows (any bytes) may still be a format no loader reads: 415.
    accepted = loaded.config.checks.positive_data_acceptance
    accepted.expected_statuses = [*accepted.expected_statuses, "415"]
    return loaded


gate = schemathesis.pytest.from_fixture("spec")


@gate.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure is reproducible
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_service_answers_as_its_spec_says(case: schemathesis.Case, caller: Caller) -> None:
    response = case.call(headers=caller.headers())
    if response.status_code >= 400:
        body = response.json()
        extra = {"error"} if case.path.startswith("/v1/") else set()
        assert ERROR_FIELDS <= set(body) <= ERROR_FIELDS | extra, body
        assert body["error_code"] in CONTRACT_CODES, body
    # Which message of a conversation is the question is a rule JSON Schema cannot state
    # (the spec says it in words): a valid-looking conversation may be refused there.
    run = CHECKS if case.path != "/v1/chat/completions" else CHECKS_WITHOUT_ACCEPTANCE
    case.validate_response(response, checks=run, headers=caller.headers())
    if case.path == "/api/auth/logout" and response.status_code == 204 and caller.token:
        caller.log_in()  # that login is over; the next cases need one


def test_production_serves_no_page_with_third_party_scripts(production_app: FastAPI) -> None:
    http = TestClient(production_app)
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert http.get(page).status_code == 404, page
    assert "/api/chat" in http.get("/openapi.json").json()["paths"]
    library = http.get("/")
    assert library.headers["content-security-policy"] == PAGE_CSP
    assert "unsafe-inline" not in PAGE_CSP and "https:" not in PAGE_CSP
