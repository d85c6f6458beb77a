"""The OpenAI and Gemini chat models through their real SDKs, against local stand-in servers.

Gemini is not reachable from here: ``standins.py`` speaks its ``generateContent`` /
``streamGenerateContent`` REST shape, which google-genai is pointed at with ``base_url``.
"""

from __future__ import annotations

import re
import socket

import pytest
from standins import Reply, serve

from rag_chatbot.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from rag_chatbot.providers.generators.base import Message, RetryPolicy
from rag_chatbot.providers.generators.gemini import GeminiChatModel
from rag_chatbot.providers.generators.openai_compatible import OpenAIChatModel

FAST_RETRY = RetryPolicy(retries=2, base_delay=0.01, max_delay=0.02)
MESSAGES = [
    Message("system", "Use the sources."),
    Message("user", "Is SQLite threadsafe?"),
    Message("assistant", "Yes."),
    Message("user", "What about its size limit?"),
]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openai_model(base: str, **kwargs: object) -> OpenAIChatModel:
    options: dict[str, object] = {"retry": FAST_RETRY, "api_key": "sk-test", **kwargs}
    return OpenAIChatModel("stand-in", base_url=f"{base}/v1", **options)  # type: ignore[arg-type]


def gemini_model(base: str, **kwargs: object) -> GeminiChatModel:
    options: dict[str, object] = {"retry": FAST_RETRY, **kwargs}
    return GeminiChatModel("gemini-test", api_key="g-key", base_url=base, **options)  # type: ignore[arg-type]


def test_openai_streams_pieces_and_sends_the_conversation() -> None:
    with serve([Reply(["Up to ", "281 TB ", "[1]."])]) as server:
        pieces = list(openai_model(server.base).stream(MESSAGES, max_tokens=64))
    assert pieces == ["Up to ", "281 TB ", "[1]."]
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["stream"] is True and request.body["model"] == "stand-in"
    assert request.body["max_tokens"] == 64 and request.body["temperature"] == 0.1
    assert [m["role"] for m in request.body["messages"]] == [m.role for m in MESSAGES]


def test_openai_retries_429_and_5xx_with_backoff_then_answers() -> None:
    with serve([Reply(status=429), Reply(status=503), Reply(["ok"])]) as server:
        assert openai_model(server.base).complete(MESSAGES, max_tokens=8) == "ok"
    assert len(server.requests) == 3


def test_openai_gives_up_after_the_configured_retries() -> None:
    with (
        serve([Reply(status=500)] * 5) as server,
        pytest.raises(ProviderUnavailable, match="HTTP 500"),
    ):
        list(openai_model(server.base).stream(MESSAGES, max_tokens=8))
    assert len(server.requests) == 3  # the first attempt and two retries


def test_openai_client_errors_are_not_retried() -> None:
    with (
        serve([Reply(status=401), Reply(["never sent"])]) as server,
        pytest.raises(ProviderError, match="HTTP 401") as raised,
    ):
        openai_model(server.base).complete(MESSAGES, max_tokens=8)
    assert not isinstance(raised.value, ProviderUnavailable)
    assert len(server.requests) == 1


def test_openai_timeout_is_reported_and_not_retried() -> None:
    with (
        serve([Reply(["late"], delay=1.5), Reply(["late"], delay=1.5)]) as server,
        pytest.raises(ProviderTimeout, match="openai timed out"),
    ):
        list(openai_model(server.base, timeout=0.3).stream(MESSAGES, max_tokens=8))
    assert len(server.requests) == 1


def test_openai_stream_cut_short_is_a_failure_not_a_short_answer() -> None:
    with serve([Reply(["The lens is ", "cleaned"], cut=True)]) as server:
        stream = openai_model(server.base).stream(MESSAGES, max_tokens=8)
        assert next(stream) == "The lens is "
        with pytest.raises(ProviderUnavailable, match="ended before"):
            list(stream)
    assert len(server.requests) == 1  # text was already passed on: no retry


def test_openai_unreachable_server() -> None:
    model = openai_model(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        model.complete(MESSAGES, max_tokens=8)
    with pytest.raises(ProviderUnavailable):
        model.check()


def test_openai_check_lists_models() -> None:
    with serve([]) as server:
        openai_model(server.base).check()
    assert server.requests[0].path == "/v1/models"


def test_gemini_streams_with_system_instruction_and_model_role() -> None:
    with serve([Reply(["Up to ", "281 TB [1]."])]) as server:
        pieces = list(gemini_model(server.base).stream(MESSAGES, max_tokens=64))
    assert pieces == ["Up to ", "281 TB [1]."]
    (request,) = server.requests
    # The SDK picks the API version (v1 or v1beta); the method is what matters.
    assert re.match(r"/v1(beta)?/models/gemini-test:streamGenerateContent\?alt=sse$", request.path)
    assert request.headers["x-goog-api-key"] == "g-key"
    body = request.body
    assert body["systemInstruction"]["parts"] == [{"text": "Use the sources."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][2]["parts"] == [{"text": "What about its size limit?"}]
    assert body["generationConfig"]["maxOutputTokens"] == 64


def test_gemini_complete_retries_server_errors() -> None:
    with serve([Reply(status=503), Reply(status=429), Reply(["Yes [1]."])]) as server:
        assert gemini_model(server.base).complete(MESSAGES, max_tokens=8) == "Yes [1]."
    assert [r.path.split(":")[-1] for r in server.requests] == ["generateContent"] * 3


def test_gemini_bad_request_and_timeout() -> None:
    with (
        serve([Reply(status=400)]) as server,
        pytest.raises(ProviderError, match="HTTP 400") as raised,
    ):
        gemini_model(server.base).complete(MESSAGES, max_tokens=8)
    assert not isinstance(raised.value, ProviderUnavailable)
    with (
        serve([Reply(["late"], delay=1.5)]) as server,
        pytest.raises(ProviderTimeout, match="gemini timed out"),
    ):
        list(gemini_model(server.base, timeout=0.3).stream(MESSAGES, max_tokens=8))


def test_gemini_check_and_unreachable() -> None:
    with serve([]) as server:
        gemini_model(server.base).check()
    assert re.match(r"/v1(beta)?/models/gemini-test$", server.requests[0].path)
    with pytest.raises(ProviderUnavailable, match="gemini unreachable"):
        gemini_model(f"http://127.0.0.1:{closed_port()}").complete(MESSAGES, max_tokens=8)


def test_gemini_stream_cut_short_is_a_failure() -> None:
    with serve([Reply(["Up to ", "281"], cut=True)]) as server:
        stream = gemini_model(server.base).stream(MESSAGES, max_tokens=8)
        assert next(stream) == "Up to "
        with pytest.raises(ProviderUnavailable, match="ended before"):
            list(stream)
