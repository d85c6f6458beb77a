"""Chat, search, sessions and feedback through the ASGI app."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sse import sse_events
from testing_secrets import TEST_ADMIN_TOKEN

from rag_chatbot.api.app import create_app
from rag_chatbot.container import Container
from rag_chatbot.serving.threads import AnswerThreads, chat_threads

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "error_code", "timestamp"}
    assert body["error_code"] == code


async def test_search_returns_the_contract_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/search", json={"query": "fog horn", "top_k": 2})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 2
    assert results[0]["source"] == "lighthouse.md"
    assert results[0]["url"] == "/read/lighthouse.md#fog-signals"
    assert set(results[0]) == {
        "source",
        "title",
        "section",
        "url",
        "text",
        "score",
        "document_id",
        "chunk_id",
    }


async def test_chat_answers_stores_and_lists_the_conversation(client: httpx.AsyncClient) -> None:
    first = await client.post(
        "/api/chat", json={"message": "How often is the Fresnel lens cleaned?"}
    )
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["grounded"] is True
    assert answer["citations"][0]["url"] == "/read/lighthouse.md#lamp-maintenance"
    session_id = answer["session_id"]

    messages = (await client.get(f"/api/sessions/{session_id}/messages")).json()
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["id"] == answer["message_id"]
    assert messages[1]["citations"][0]["source"] == "lighthouse.md"
    assert messages[1]["grounded"] is True and messages[1]["latency_ms"] > 0
    assert messages[1]["generator"] == "extractive"

    session = (await client.get(f"/api/sessions/{session_id}")).json()
    assert session["title"].startswith("How often is the Fresnel lens")
    listed = (await client.get("/api/sessions")).json()
    assert session_id in [s["id"] for s in listed]


async def test_follow_up_question_uses_the_previous_turn(client: httpx.AsyncClient) -> None:
    first = (
        await client.post("/api/chat", json={"message": "How is compost made at home?"})
    ).json()
    follow = await client.post(
        "/api/chat",
        json={"message": "How often should it be turned?", "session_id": first["session_id"]},
    )
    body = follow.json()
    assert body["grounded"] is True
    assert body["citations"][0]["source"] == "guides/composting.html"
    assert "two weeks" in body["answer"]


async def test_ungrounded_answer_is_stored_as_such(client: httpx.AsyncClient) -> None:
    body = (await client.post("/api/chat", json={"message": "Who won the 1998 world cup?"})).json()
    assert body["grounded"] is False and body["citations"] == []
    messages = (await client.get(f"/api/sessions/{body['session_id']}/messages")).json()
    assert messages[1]["grounded"] is False


async def test_streaming_sends_deltas_then_the_answer(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "POST", "/api/chat", json={"message": "When does the fog horn sound?", "stream": True}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events([line async for line in response.aiter_lines()])
    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    assert "delta" in kinds[:-1]
    final = events[-1][1]
    assert final["grounded"] is True and final["message_id"]
    streamed = "".join(d["text"] for e, d in events if e == "delta")
    assert " ".join(streamed.split()) == " ".join(final["answer"].split())


async def test_accept_header_also_streams(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/chat",
        json={"message": "What is stored in the oil room?"},
        headers={"Accept": "text/event-stream"},
    )
    assert response.text.rstrip().split("\n")[-2] == "event: answer"


async def test_feedback_and_delete(client: httpx.AsyncClient) -> None:
    body = (await client.post("/api/chat", json={"message": "What goes in the logbook?"})).json()
    url = f"/api/messages/{body['message_id']}/feedback"
    first = await client.post(url, json={"rating": 1, "comment": "useful"})
    assert first.status_code == 200 and first.json()["rating"] == 1
    again = await client.post(url, json={"rating": -1})
    assert again.json()["rating"] == -1 and again.json()["id"] == first.json()["id"]
    assert_error(await client.post(url, json={"rating": 5}), 422, "INVALID_INPUT")
    assert_error(
        await client.post("/api/messages/nope/feedback", json={"rating": 1}), 404, "NOT_FOUND"
    )

    deleted = await client.delete(f"/api/sessions/{body['session_id']}")
    assert deleted.status_code == 204
    assert_error(await client.get(f"/api/sessions/{body['session_id']}"), 404, "SESSION_NOT_FOUND")
    assert_error(await client.post(url, json={"rating": 1}), 404, "NOT_FOUND")


async def test_bad_input_gets_a_clear_4xx_and_writes_nothing(client: httpx.AsyncClient) -> None:
    before = len((await client.get("/api/sessions", params={"limit": 200})).json())
    assert_error(await client.post("/api/chat", json={"message": ""}), 422, "INVALID_INPUT")
    assert_error(await client.post("/api/chat", json={"message": "   "}), 422, "INVALID_INPUT")
    assert_error(await client.post("/api/chat", json={"msg": "hi"}), 422, "INVALID_INPUT")
    assert_error(await client.post("/api/chat", content=b"{not json"), 422, "INVALID_INPUT")
    assert_error(await client.post("/api/chat", json={"message": "x" * 5000}), 422, "INVALID_INPUT")
    assert_error(
        await client.post("/api/chat", json={"message": "hi there", "session_id": "missing"}),
        404,
        "SESSION_NOT_FOUND",
    )
    assert_error(
        await client.post("/api/search", json={"query": "x", "top_k": 0}), 422, "INVALID_INPUT"
    )
    assert_error(await client.get("/api/nothing-here"), 404, "NOT_FOUND")
    after = len((await client.get("/api/sessions", params={"limit": 200})).json())
    assert after == before


# Each asked by no other test: a cached answer would be served without a thread.
_QUESTION = "How often is the Fresnel lens cleaned ({})?"
_ANSWERING_REQUESTS = {
    "chat JSON": ("/api/chat", {"message": _QUESTION.format("JSON")}),
    "chat SSE": ("/api/chat", {"message": _QUESTION.format("SSE"), "stream": True}),
    "OpenAI-compatible SSE": (
        "/v1/chat/completions",
        {
            "model": "rag-chatbot",
            "stream": True,
            "messages": [{"role": "user", "content": _QUESTION.format("v1")}],
        },
    ),
}


@pytest.mark.parametrize("kind", list(_ANSWERING_REQUESTS))
async def test_answers_wait_for_a_free_answer_thread(api_container: Container, kind: str) -> None:
    path, body = _ANSWERING_REQUESTS[kind]
    app = create_app(api_container)
    threads: AnswerThreads = app.state.answer_threads
    assert threads.total == chat_threads(api_container.settings, llm=False)
    holders = [object() for _ in range(threads.total)]
    for holder in holders:  # every answer thread taken, as by as many questions
        await threads.limiter.acquire_on_behalf_of(holder)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as http:
        asked = asyncio.ensure_future(http.post(path, json=body))
        await asyncio.sleep(0.5)
        assert not asked.done()  # queued for a thread, not answered beside the others
        threads.limiter.release_on_behalf_of(holders[0])
        response = await asyncio.wait_for(asked, 30)
    assert response.status_code == 200, response.text
    assert "lamp-maintenance" in response.text
    for holder in holders[1:]:
        threads.limiter.release_on_behalf_of(holder)
