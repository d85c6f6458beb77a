"""LOG_FORMAT=json: JSON lines, request ids, redaction, file routing, reopening after rotation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rag_chatbot.observability.logging import (
    ACCESS_LOGGER,
    configure_logging,
    redact_text,
    request_id_var,
)

pytestmark = pytest.mark.usefixtures("isolated_logging")

log = logging.getLogger("rag_chatbot.tests.observability")


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_json_line_has_standard_fields_extra_fields_and_request_id(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "json")
    token = request_id_var.set("req-123")
    try:
        log.info("document ingested", extra={"document_id": 7, "chunks": 12})
    finally:
        request_id_var.reset(token)
    log.info("outside a request")

    inside, outside = _lines(tmp_path / "app.log")
    assert inside["event"] == "document ingested"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "rag_chatbot.tests.observability"
    assert inside["document_id"] == 7 and inside["chunks"] == 12
    assert inside["request_id"] == "req-123"
    assert str(inside["timestamp"]).endswith("Z") and "T" in str(inside["timestamp"])
    assert "request_id" not in outside


def test_level_filters_and_unknown_level_is_refused(tmp_path: Path) -> None:
    configure_logging(tmp_path, "warning", "json")
    log.info("too quiet")
    log.warning("loud enough")
    assert [line["event"] for line in _lines(tmp_path / "app.log")] == ["loud enough"]
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        configure_logging(tmp_path, "CHATTY")


def test_secret_fields_are_masked_and_counts_are_kept(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "json")
    log.info(
        "provider configured",
        extra={
            "password": "hunter2",
            "llm_api_key": "abc123",
            "admin_token": "t0ps3cret",
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "text/html"},
            "max_tokens": 256,
        },
    )
    text = (tmp_path / "app.log").read_text(encoding="utf-8")
    for secret in ("hunter2", "abc123", "t0ps3cret", "dXNlcjpwYXNz"):
        assert secret not in text
    (line,) = _lines(tmp_path / "app.log")
    assert line["password"] == "***" and line["llm_api_key"] == "***"
    assert line["headers"] == {"Authorization": "***", "Accept": "text/html"}
    assert line["max_tokens"] == 256


def test_secrets_in_messages_arguments_and_tracebacks_are_masked(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "json")
    log.warning("upstream refused Authorization: Bearer eyJhbGciOi.payload.sig")
    log.warning("key %s rejected for %s", "sk-proj-AbCdEf1234567890", "postgresql://app:pw9@db/x")
    log.warning("retrying with password=hunter2 and api_key: 'k-777'")
    try:
        raise RuntimeError("token=abcdef0123 expired")
    except RuntimeError:
        log.exception("call failed")

    text = (tmp_path / "app.log").read_text(encoding="utf-8")
    for secret in ("eyJhbGciOi", "AbCdEf1234567890", "pw9", "hunter2", "k-777", "abcdef0123"):
        assert secret not in text
    events = [line["event"] for line in _lines(tmp_path / "app.log")]
    assert events[0] == "upstream refused Authorization: Bearer ***"
    assert events[1] == "key sk-*** rejected for postgresql://app:***@db/x"
    assert "token=***" in str(_lines(tmp_path / "app.log")[3]["exception"])


def test_redact_text_leaves_ordinary_text_alone() -> None:
    text = "max_tokens=256, tokens: 12, the secretary's key (sk-1) opened the tokenizer"
    assert redact_text(text) == text


def test_access_logger_goes_to_access_log_only(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "json")
    logging.getLogger(ACCESS_LOGGER).info("http_request", extra={"status": 200})
    log.info("app event")
    assert [line["event"] for line in _lines(tmp_path / "access.log")] == ["http_request"]
    assert [line["event"] for line in _lines(tmp_path / "app.log")] == ["app event"]


def test_stderr_gets_every_record_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(None, "INFO", "json")
    logging.getLogger(ACCESS_LOGGER).info("http_request")
    log.info("app event", extra={"n": 1})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["http_request", "app event"]


def test_configuring_twice_does_not_duplicate_lines(tmp_path: Path) -> None:
    configure_logging(tmp_path, "INFO", "json")
    configure_logging(tmp_path, "INFO", "json")
    log.info("once")
    assert len(_lines(tmp_path / "app.log")) == 1
    owned = [h for h in logging.getLogger().handlers if getattr(h, "_rag_chatbot_handler", False)]
    assert len(owned) == 3


@pytest.mark.parametrize("rotation", ["rename", "remove"])
def test_log_files_are_reopened_after_logrotate(tmp_path: Path, rotation: str) -> None:
    configure_logging(tmp_path, "INFO", "json")
    app_log = tmp_path / "app.log"
    log.info("before rotation")
    if rotation == "rename":
        app_log.rename(tmp_path / "app.log.1")
    else:
        app_log.unlink()
    log.info("after rotation")

    assert [line["event"] for line in _lines(app_log)] == ["after rotation"]
    if rotation == "rename":
        rotated = _lines(tmp_path / "app.log.1")
        assert [line["event"] for line in rotated] == ["before rotation"]
