"""LOG_FORMAT=text, line by line: fields, quoting, redaction, tracebacks; and JSON unchanged."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from rag_chatbot.observability.log_context import HTTP_VERSION_HINT, request_id_var
from rag_chatbot.observability.log_text import INDENT, logger_label, text_value
from rag_chatbot.observability.logging import JsonFormatter, RedactionFilter, configure_logging

pytestmark = pytest.mark.usefixtures("isolated_logging")

log = logging.getLogger("rag_chatbot.tests.text")
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _app_log(path: Path) -> list[str]:
    return (path / "app.log").read_text(encoding="utf-8").splitlines()


def test_a_line_is_timestamp_level_logger_event_then_fields_then_request_id(
    tmp_path: Path,
) -> None:
    configure_logging(tmp_path, "INFO", "text")
    token = request_id_var.set("req-9")
    try:
        log.info("document_ingested", extra={"document_id": 7, "chunks": 12, "ok": True})
    finally:
        request_id_var.reset(token)
    log.warning("no request here", extra={"source": None, "tags": ["a", "b"]})

    inside, outside = _app_log(tmp_path)
    assert re.fullmatch(
        TS + r" INFO rag_chatbot.tests.text document_ingested document_id=7 chunks=12 ok=true "
        r"request_id=req-9",
        inside,
    )
    assert re.fullmatch(
        TS + r' WARNING rag_chatbot.tests.text "no request here" source=- tags=\S+', outside
    )
    assert outside.endswith('tags="[\\"a\\",\\"b\\"]"')


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("/api/chat", "/api/chat"),
        ("two words", '"two words"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("tab\there", '"tab\\there"'),
        ("back\\slash", '"back\\\\slash"'),
        ("café", "café"),
        (None, "-"),
        (False, "false"),
        (3, "3"),
        (0.25, "0.25"),
        ({"k": "v"}, '"{\\"k\\":\\"v\\"}"'),
    ],
)
def test_values_are_one_token_each(value: object, written: str) -> None:
    assert text_value(value) == written
    if isinstance(value, str) and written.startswith('"'):
        assert json.loads(written) == value  # a quoted value reads back as it was


def test_values_with_spaces_are_quoted_so_fields_stay_apart(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "text")
    log.warning("auth_failed", extra={"user": "bob smith", "reason": "wrong username or password"})
    (line,) = _app_log(tmp_path)
    assert line.endswith(' auth_failed user="bob smith" reason="wrong username or password"')
    assert line.split()[3] == "auth_failed"


def test_secrets_are_masked_in_text_fields_messages_and_tracebacks(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "text")
    log.info(
        "provider configured",
        extra={"password": "hunter2", "llm_api_key": "abc123", "max_tokens": 256},
    )
    log.warning("retrying with password=hunter3 via postgresql://app:pw9@db/x")
    try:
        raise RuntimeError("Authorization: Bearer eyJhbGciOi.payload.sig refused")
    except RuntimeError:
        log.exception("call failed")

    text = (tmp_path / "app.log").read_text(encoding="utf-8")
    for secret in ("hunter2", "hunter3", "abc123", "pw9", "eyJhbGciOi"):
        assert secret not in text
    assert "password=*** llm_api_key=*** max_tokens=256" in text
    assert "postgresql://app:***@db/x" in text
    assert "Bearer ***" in text


def test_a_traceback_follows_its_error_on_indented_lines(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "text")
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("request failed", extra={"error_code": "PROCESSING_ERROR"})
    log.info("next record")

    head, *traceback, after = _app_log(tmp_path)
    assert re.fullmatch(
        TS + r' ERROR rag_chatbot.tests.text "request failed" error_code=PROCESSING_ERROR', head
    )
    assert traceback[0] == INDENT + "Traceback (most recent call last):"
    assert traceback[-2:] == [INDENT + "ValueError: bad", INDENT + "value"]
    assert all(line.startswith(INDENT) for line in traceback)
    assert after.split()[1:] == ["INFO", "rag_chatbot.tests.text", '"next', 'record"']


def test_only_errors_say_error(tmp_path: Path) -> None:
    configure_logging(tmp_path, "DEBUG", "text")
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("gunicorn.error").warning("Worker timeout")
    logging.getLogger("rag_chatbot.api.errors").warning("slow handler")
    logging.getLogger("rag_chatbot.tests.text").critical("disk full")
    logging.getLogger("uvicorn.error").error("Exception in ASGI application")

    lines = _app_log(tmp_path)
    assert [line.split()[1:3] for line in lines] == [
        ["INFO", "uvicorn"],
        ["WARNING", "gunicorn"],
        ["WARNING", "rag_chatbot.api"],
        ["CRITICAL_ERROR", "rag_chatbot.tests.text"],
        ["ERROR", "uvicorn"],
    ]
    assert [bool(re.search("error", line, re.I)) for line in lines] == [0, 0, 0, 1, 1]
    assert logger_label("error") == "-"


def test_response_time_is_said_by_the_per_request_line_alone(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "text")
    logging.getLogger("rag_chatbot.answering.chat").info(
        "chat_request", extra={"grounded": True, "response_time": 86.3}
    )
    logging.getLogger("rag_chatbot.http").info(
        "response_time",
        extra={"duration_ms": 5000.5, "method": "POST", "path": "/api/chat", "status": 200},
    )
    chat, timed = _app_log(tmp_path)
    assert chat.endswith(" chat_request grounded=true latency_ms=86.3")
    assert "response_time" not in chat
    assert timed.split()[3:] == [
        "response_time",
        "5000",  # whole milliseconds, so awk '$5 > 5000' compares numbers
        "method=POST",
        "path=/api/chat",
        "status=200",
    ]


def test_uvicorn_colour_copy_is_left_out_of_text(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "text")
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "\x1b[36m%d\x1b[0m"}
    )
    (line,) = _app_log(tmp_path)
    assert line.endswith(' INFO uvicorn "Started server process [42]"')


def test_stderr_gets_text_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(None, "INFO")  # text is the default
    log.info("app_event", extra={"n": 1})
    (line,) = capsys.readouterr().err.splitlines()
    assert re.fullmatch(TS + " INFO rag_chatbot.tests.text app_event n=1", line)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        configure_logging(tmp_path, "INFO", "yaml")


def _record(name: str, level: int, msg: str, extra: dict[str, object]) -> logging.LogRecord:
    exc_info = sys.exc_info() if level >= logging.ERROR else None
    record = logging.getLogger(name).makeRecord(
        name, level, "f", 1, msg, None, exc_info, extra=extra
    )
    record.created, record.process = 1767225600.123, 4242
    RedactionFilter().filter(record)
    return record


def test_json_lines_are_unchanged() -> None:
    """The JSON form, byte for byte, as it was before the text form existed."""
    chat = _record(
        "rag_chatbot.answering.chat",
        logging.INFO,
        "chat_request",
        {"session_id": "s-1", "grounded": True, "response_time": 86.3, "password": "x"},
    )
    assert JsonFormatter().format(chat) == (
        '{"timestamp": "2026-01-01T00:00:00.123Z", "level": "INFO", "logger": '
        '"rag_chatbot.answering.chat", "event": "chat_request", "pid": 4242, "session_id": '
        '"s-1", "grounded": true, "response_time": 86.3, "password": "***"}'
    )
    access = _record(
        "rag_chatbot.access",
        logging.INFO,
        "http_request",
        {
            "method": "GET",
            "path": "/api/health",
            "route": "/api/health",
            "status": 200,
            "duration_ms": 1.25,
            "request_id": "r-1",
            "client": "127.0.0.1",
            HTTP_VERSION_HINT: "1.1",  # read by the text form only
        },
    )
    assert JsonFormatter().format(access) == (
        '{"timestamp": "2026-01-01T00:00:00.123Z", "level": "INFO", "logger": '
        '"rag_chatbot.access", "event": "http_request", "pid": 4242, "method": "GET", "path": '
        '"/api/health", "route": "/api/health", "status": 200, "duration_ms": 1.25, '
        '"request_id": "r-1", "client": "127.0.0.1"}'
    )
    try:
        raise RuntimeError("token=abcdef0123 expired")
    except RuntimeError:
        failed = _record("rag_chatbot.api.errors", logging.ERROR, "unexpected error", {})
    entry = JsonFormatter().format(failed)
    assert entry.startswith(
        '{"timestamp": "2026-01-01T00:00:00.123Z", "level": "ERROR", "logger": '
        '"rag_chatbot.api.errors", "event": "unexpected error", "pid": 4242, "exception": '
        '"Traceback (most recent call last):\\n'
    )
    assert entry.endswith('\\nRuntimeError: token=*** expired"}')
