"""/api/chat with a language model (a stand-in OpenAI server): real deltas, fallback, health."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sse import sse_events
from standins import Reply, StandIn, serve
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.api.app import create_app
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with serve([]) as server:
        yield server


@pytest.fixture(scope="module")
def llm_container(
    tmp_path_factory: pytest.TempPathFactory,
    onnx_embedder: Embedder,
    fixture_corpus: Path,
    standin: StandIn,
) -> Iterator[Container]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("llm-api") / "data",
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
        admin_token=TEST_ADMIN_TOKEN,
        llm_provider="openai",
        llm_base_url=f"{standin.base}/v1",
        llm_model="stand-in",
        llm_max_retries=0,
        llm_timeout=5,
        enable_response_cache=False,
        rate_limit_chat="10000/minute",
        rate_limit_default="10000/minute",
    )
    container = build_container(settings, embedder=onnx_embedder)
    container.pipeline.ingest_paths([fixture_corpus])
    yield container
    container.close()


@pytest.fixture
async def client(llm_container: Container, standin: StandIn) -> AsyncIterator[httpx.AsyncClient]:
    standin.replies.clear()
    standin.requests.clear()
    transport = httpx.ASGITransport(app=create_app(llm_container))
    headers = {"X-Client-Token": secrets.token_urlsafe(24)}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        yield c


async def sse(client: httpx.AsyncClient, body: dict[str, object]) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    async with client.stream("POST", "/api/chat", json={**body, "stream": True}) as response:
        assert response.status_code == 200, await response.aread()
        return sse_events([line async for line in response.aiter_lines()])


async def test_stream_sends_the_models_tokens_with_checked_citations(
    client: httpx.AsyncClient, standin: StandIn
) -> None:
    standin.replies.append(Reply(["The lens is ", "cleaned every morning [", "1]", " [7]."]))
    events = await sse(client, {"message": "How often is the Fresnel lens cleaned?"})
    deltas = [data["text"] for kind, data in events if kind == "delta"]
    assert deltas == ["The lens is", " cleaned every morning", " [1]", "."]
    kind, final = events[-1]
    assert kind == "answer"
    assert final["answer"] == "The lens is cleaned every morning [1]."
    assert final["generator"] == "openai:stand-in" and final["grounded"] is True
    assert [c["url"] for c in final["citations"]] == ["/read/lighthouse.md#lamp-maintenance"]
    prompt = standin.requests[-1].body["messages"][-1]["content"]
    assert '<source id="1" title="The Lighthouse Keeper&#x27;s Manual"' in prompt
    assert "Question: How often is the Fresnel lens cleaned?" in prompt


async def test_failing_model_falls_back_and_health_shows_it(
    client: httpx.AsyncClient, standin: StandIn
) -> None:
    standin.replies.append(Reply(status=500))
    body = (
        await client.post("/api/chat", json={"message": "When does the fog horn sound?"})
    ).json()
    assert body["generator"] == "extractive (fallback: openai unavailable)"
    assert body["grounded"] is True
    assert body["citations"][0]["url"] == "/read/lighthouse.md#fog-signals"
    messages = (await client.get(f"/api/sessions/{body['session_id']}/messages")).json()
    assert messages[1]["generator"] == body["generator"]

    health = await client.get("/api/health/detailed")
    assert health.status_code == 200
    assert health.json()["services"]["ai_service"] == "degraded"
    assert health.json()["status"] == "degraded"

    standin.replies.append(Reply(["Two blasts a minute [1]."]))
    again = await client.post("/api/chat", json={"message": "When does the fog horn sound?"})
    assert again.json()["generator"] == "openai:stand-in"
    health = (await client.get("/api/health/detailed")).json()
    assert health["services"]["ai_service"] == "healthy"


async def test_model_cut_off_mid_answer_restarts_the_stream_with_the_fallback(
    client: httpx.AsyncClient, standin: StandIn
) -> None:
    standin.replies.append(Reply(["Green tea wants ", "water at "], cut=True))
    events = await sse(client, {"message": "How hot should green tea water be?"})
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["delta", "delta"] and kinds.count("restart") == 1
    restart = kinds.index("restart")
    assert events[restart][1] == {"reason": "openai failed mid-answer"}
    final = events[-1][1]
    assert final["generator"] == "extractive (fallback: openai failed mid-answer)"
    after = "".join(data["text"] for kind, data in events[restart:] if kind == "delta")
    assert after == final["answer"] and "80 degrees" in after


async def test_follow_up_is_rewritten_by_the_model_and_answered_with_the_history(
    client: httpx.AsyncClient, standin: StandIn
) -> None:
    # The check of claims against their passage passes: this is what passage 1 says.
    standin.replies.append(Reply(["Compost turns kitchen waste into soil food [1]."]))
    first = await client.post("/api/chat", json={"message": "How is compost made at home?"})
    session_id = first.json()["session_id"]
    standin.replies += [
        Reply(["How often should a home compost pile be turned?"]),  # the rewrite
        Reply(["Every two weeks [1]."]),
    ]
    body = {"message": "How often should it be turned?", "session_id": session_id}
    follow = (await client.post("/api/chat", json=body)).json()
    assert follow["answer"] == "Every two weeks [1]."
    assert follow["citations"][0]["source"] == "guides/composting.html"

    rewrite, answer = standin.requests[-2:]
    assert rewrite.body.get("stream") is not True
    rewrite_prompt = rewrite.body["messages"][-1]["content"]
    assert "user: How is compost made at home?" in rewrite_prompt
    assert "assistant: Compost turns kitchen waste into soil food." in rewrite_prompt  # no [1]
    assert rewrite_prompt.rstrip().endswith("Rewritten question:")
    roles = [m["role"] for m in answer.body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert answer.body["messages"][1]["content"] == "How is compost made at home?"
    assert "Question: How often should it be turned?" in answer.body["messages"][-1]["content"]


async def test_a_standalone_question_costs_no_rewrite_call(
    client: httpx.AsyncClient, standin: StandIn
) -> None:
    standin.replies.append(Reply(["Daily [1]."]))
    first = await client.post("/api/chat", json={"message": "How is the Fresnel lens cleaned?"})
    standin.replies.append(Reply(["Two blasts [1]."]))
    body = {"message": "When does the fog horn sound?", "session_id": first.json()["session_id"]}
    assert (await client.post("/api/chat", json=body)).status_code == 200
    assert [r.body.get("stream") for r in standin.requests] == [True, True]


async def test_selected_text_is_the_only_source(
    client: httpx.AsyncClient, standin: StandIn
) -> None:
    standin.replies.append(Reply(["On the lamp gallery [1]. Also [2]."]))
    body = {
        "message": "Where does the cat sleep?",
        "selected_text": "The keeper's cat sleeps on the warm lamp gallery.",
    }
    answer = (await client.post("/api/chat", json=body)).json()
    assert answer["answer"] == "On the lamp gallery [1]. Also."
    assert [c["source"] for c in answer["citations"]] == ["selection"]
    prompt = standin.requests[-1].body["messages"][-1]["content"]
    assert prompt.count("<source ") == 1 and '<source id="1" title="Selected text"' in prompt
