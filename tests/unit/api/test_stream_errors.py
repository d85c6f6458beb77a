"""What a stream sends when it fails after it started: the API's error body, then its end."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from rag_chatbot.answering.base import StreamItem
from rag_chatbot.api.errors import stream_error
from rag_chatbot.api.routes.openai_compat import _chunks
from rag_chatbot.errors import ProviderUnavailable


def test_our_errors_keep_their_detail_and_code() -> None:
    body = stream_error(ProviderUnavailable("the model server is down"))
    assert body["detail"] == "the model server is down"
    assert body["error_code"] == ProviderUnavailable("x").error_code
    assert set(body) == {"detail", "error_code", "timestamp"}


def test_other_errors_are_logged_and_told_as_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = stream_error(RuntimeError("password hunter2 in the connection string"))
    assert body["detail"] == "internal error" and body["error_code"] == "PROCESSING_ERROR"
    assert any("hunter2" in (r.exc_text or "") for r in caplog.records if r.levelname == "ERROR")


def test_an_openai_stream_that_fails_ends_with_an_error_chunk_and_done() -> None:
    def items() -> Iterator[StreamItem]:
        yield "Green tea is brewed "
        raise RuntimeError("the store went away")

    lines = list(_chunks("chatcmpl-test", items()))
    assert lines[-1] == "data: [DONE]\n\n"
    error = json.loads(lines[-2].removeprefix("data: "))
    assert error["error"] == {
        "message": "internal error",
        "type": "server_error",
        "code": "PROCESSING_ERROR",
    }
    assert error["detail"] == "internal error" and "timestamp" in error
    assert json.loads(lines[1].removeprefix("data: "))["choices"][0]["delta"]["content"]
