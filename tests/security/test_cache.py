"""The response cache: hits still go to the history, re-indexing invalidates, admin endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest
import redis
from security_support import ADMIN, Factory, browser, client

from rag_chatbot.answering.chat import Question
from rag_chatbot.container import Container

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
QUESTION = "How often is the Fresnel lens cleaned?"


async def _ask(http: httpx.AsyncClient, message: str, **extra: object) -> dict[str, object]:
    response = await http.post("/api/chat", json={"message": message, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture(params=["memory", "redis"])
def cached_container(request: pytest.FixtureRequest, make_container: Factory) -> Container:
    if request.param == "memory":
        return make_container()
    redis_url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    return make_container(redis_url=redis_url, redis_key_prefix=prefix)


async def test_a_repeat_is_served_from_cache_and_still_stored(cached_container: Container) -> None:
    async with client(cached_container, browser()) as http:
        first = await _ask(http, QUESTION)
        second = await _ask(http, "  how often is the FRESNEL lens cleaned?  ")
        assert first["cached"] is False and second["cached"] is True
        for field in ("answer", "grounded", "citations", "generator"):
            assert first[field] == second[field]
        messages = await http.get(f"/api/sessions/{second['session_id']}/messages")
        stored = messages.json()
        assert [m["role"] for m in stored] == ["user", "assistant"]
        assert stored[1]["id"] == second["message_id"] and stored[1]["citations"]
        # Different selected text, or a follow-up in a conversation, is a different question.
        selected = await _ask(http, QUESTION, selected_text="The lens is cleaned every morning.")
        assert selected["cached"] is False
        stats = (await http.get("/api/admin/cache/stats", headers=ADMIN)).json()
        assert stats["hits"] == 1 and stats["misses"] == 2 and stats["keys"] == 2
        assert stats["hit_rate"] == pytest.approx(1 / 3, abs=1e-3)
        assert stats["memory_bytes"] > 0
        assert stats["backend"] == cached_container.kv.backend


def _completion(question: str, *, stream: bool = False) -> dict[str, object]:
    messages = [{"role": "user", "content": question}]
    return {"model": "rag-chatbot", "messages": messages, "stream": stream}


async def _complete(http: httpx.AsyncClient, question: str) -> dict[str, object]:
    response = await http.post("/v1/chat/completions", json=_completion(question), headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def _stats(http: httpx.AsyncClient) -> dict[str, object]:
    stats: dict[str, object] = (await http.get("/api/admin/cache/stats", headers=ADMIN)).json()
    return stats


async def test_the_openai_route_and_api_chat_share_the_response_cache(
    cached_container: Container,
) -> None:
    async with client(cached_container, browser()) as http:
        asked = await _ask(http, QUESTION)
        assert asked["cached"] is False
        # The same question on /v1/chat/completions is answered from the cache: a hit.
        completion = await _complete(http, "how often is the Fresnel lens cleaned?")
        assert completion["choices"][0]["message"]["content"] == asked["answer"]  # type: ignore[index]
        assert completion["citations"] == asked["citations"]
        assert completion["generator"] == asked["generator"]
        stats = await _stats(http)
        assert (stats["hits"], stats["misses"], stats["keys"]) == (1, 1, 1)

        streamed = await http.post(
            "/v1/chat/completions", json=_completion(QUESTION, stream=True), headers=ADMIN
        )
        assert streamed.status_code == 200, streamed.text
        chunks = [
            json.loads(line.removeprefix("data: "))
            for line in streamed.text.splitlines()
            if line.startswith("data: {")
        ]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == asked["answer"] and chunks[-1]["citations"] == asked["citations"]
        assert (await _stats(http))["hits"] == 2

        # The other way round: asked first on /v1, then answered from the cache on /api/chat,
        # and stored there as every /api/chat answer is.
        first = await _complete(http, "What is a fog signal?")
        again = await _ask(http, "What is a fog signal?")
        assert again["cached"] is True
        assert again["answer"] == first["choices"][0]["message"]["content"]  # type: ignore[index]
        assert again["citations"] == first["citations"]
        stored = (await http.get(f"/api/sessions/{again['session_id']}/messages")).json()
        assert [m["id"] for m in stored] == [stored[0]["id"], again["message_id"]]
        stats = await _stats(http)
        assert (stats["hits"], stats["misses"], stats["keys"]) == (3, 2, 2)


async def test_a_question_asked_without_storage_stores_nothing_and_shares_the_cache(
    make_container: Factory,
) -> None:
    """As ``rag-chatbot ask`` asks: no session, no message; the answer cached all the same."""
    container = make_container()
    reply = container.chat.ask(Question(QUESTION))
    assert (reply.session_id, reply.message_id, reply.cached) == (None, None, False)
    assert container.chat.ask(Question(f"  {QUESTION.upper()} ")).cached is True
    assert container.chats.list_sessions(None) == []
    async with client(container, browser()) as http:
        asked = await _ask(http, QUESTION)
        assert asked["cached"] is True and asked["answer"] == reply.answer.answer


async def test_a_follow_up_is_keyed_on_its_conversation(make_container: Factory) -> None:
    async with client(make_container(), browser()) as http:
        tea = await _ask(http, "How should green tea be brewed?")
        lens = await _ask(http, QUESTION)
        follow_tea = await _ask(http, "What about its temperature?", session_id=tea["session_id"])
        follow_lens = await _ask(http, "What about its temperature?", session_id=lens["session_id"])
        assert follow_lens["cached"] is False  # same words, another conversation
        assert follow_tea["citations"] != follow_lens["citations"]


async def test_any_document_change_invalidates_cached_answers(make_container: Factory) -> None:
    container = make_container()
    async with client(container, browser()) as http:
        await _ask(http, QUESTION)
        assert (await _ask(http, QUESTION))["cached"] is True
        note = b"# Harbour\n\nThe harbour master rings the bell at noon.\n"
        upload = await http.post(
            "/api/documents", files={"file": ("harbour.md", note)}, headers=ADMIN
        )
        assert upload.status_code == 202
        document_id = upload.json()["id"]
        await _until_completed(http, document_id)
        assert (await _ask(http, QUESTION))["cached"] is False
        assert (await _ask(http, QUESTION))["cached"] is True
        assert (
            await http.delete(f"/api/documents/{document_id}", headers=ADMIN)
        ).status_code == 204
        assert (await _ask(http, QUESTION))["cached"] is False
        assert (await http.post("/api/documents/reindex", headers=ADMIN)).status_code == 202
        await asyncio.sleep(0)  # the background re-index runs after the response
        assert (await _ask(http, QUESTION))["cached"] is False


async def test_a_replica_serves_no_stale_answer_once_another_changed_a_document(
    make_container: Factory, redis_url: str, redis_prefix: str
) -> None:
    """Replica B answers cached first questions on its event loop, keyed on the index version
    it saw last; a document change made through replica A must reach B's very next answer.
    """
    shared = {"redis_url": redis_url, "redis_key_prefix": redis_prefix}
    replica_a, replica_b = make_container(**shared), make_container(**shared)
    async with client(replica_a, browser()) as a, client(replica_b, browser()) as b:
        assert (await _ask(a, QUESTION))["cached"] is False
        assert (await _ask(b, QUESTION))["cached"] is True  # B reads the version here
        served = await _ask(b, QUESTION)  # ... and now keys on the version it remembers
        assert served["cached"] is True
        stored = (await b.get(f"/api/sessions/{served['session_id']}/messages")).json()
        assert [m["id"] for m in stored][1] == served["message_id"]
        note = b"# Harbour\n\nThe harbour master rings the bell at noon.\n"
        upload = await a.post("/api/documents", files={"file": ("harbour.md", note)}, headers=ADMIN)
        assert upload.status_code == 202
        await _until_completed(a, upload.json()["id"])
        after = await _ask(b, QUESTION)
        assert after["cached"] is False
        stored = (await b.get(f"/api/sessions/{after['session_id']}/messages")).json()
        assert [m["role"] for m in stored] == ["user", "assistant"]  # stored once, not twice
        assert (await _ask(b, QUESTION))["cached"] is True


async def _until_completed(http: httpx.AsyncClient, document_id: str) -> None:
    for _ in range(300):
        status = (await http.get(f"/api/documents/{document_id}")).json()["status"]
        if status != "processing":
            assert status == "completed"
            return
        await asyncio.sleep(0.05)
    raise AssertionError("upload was not ingested")


async def test_clear_and_warm(cached_container: Container) -> None:
    async with client(cached_container, browser()) as http:
        for question in (QUESTION, QUESTION, "How do I cure my tea?"):
            await _ask(http, question)
        cleared = await http.post("/api/admin/cache/clear", headers=ADMIN)
        assert cleared.json() == {"cleared": 2}
        stats = (await http.get("/api/admin/cache/stats", headers=ADMIN)).json()
        assert stats["keys"] == 0 and stats["hits"] == 0

        # Without a list: the most frequent questions asked, most frequent first.
        warmed = (await http.post("/api/admin/cache/warm", json={"limit": 5}, headers=ADMIN)).json()
        assert warmed["questions"][0] == QUESTION.lower()
        assert warmed["warmed"] == 2 and warmed["failed"] == 0
        assert (await _ask(http, QUESTION))["cached"] is True
        given = {"questions": ["What is a fog signal?", QUESTION.lower(), "  "]}
        again = (await http.post("/api/admin/cache/warm", json=given, headers=ADMIN)).json()
        assert (again["warmed"], again["already_cached"], again["failed"]) == (1, 1, 1)
        assert (await _ask(http, "What is a fog signal?"))["cached"] is True

        # The operator's runbook posts with a bearer token and no body at all.
        await http.post("/api/admin/cache/clear", headers=ADMIN)
        bare = await http.post("/api/admin/cache/warm", headers=ADMIN)
        assert bare.status_code == 200, bare.text
        assert bare.json()["questions"][0] == QUESTION.lower()
        assert bare.json()["warmed"] == 3 and bare.json()["failed"] == 0


async def test_the_cache_can_be_switched_off(make_container: Factory) -> None:
    async with client(make_container(enable_response_cache=False), browser()) as http:
        await _ask(http, QUESTION)
        assert (await _ask(http, QUESTION))["cached"] is False
        refused = await http.post("/api/admin/cache/warm", json={}, headers=ADMIN)
        assert refused.status_code == 503


def test_cli_cache_stats_and_clear_reach_the_shared_redis(
    make_container: Factory, redis_url: str, redis_prefix: str, tmp_path: object
) -> None:
    container = make_container(redis_url=redis_url, redis_key_prefix=redis_prefix)
    container.chat.warm(QUESTION)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "DATA_DIR": str(tmp_path),
    }
    stats = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "cache", "stats", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(stats.stdout)["keys"] == 1
    cleared = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "cache", "clear"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "cleared 1 cached answers" in cleared.stdout
    assert not redis.Redis.from_url(redis_url).keys(f"{redis_prefix}cache:answer:*")
