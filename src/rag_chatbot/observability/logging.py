"""Logging with request ids and secret redaction, as text lines or JSON lines.

``configure_logging(log_dir, level, log_format)`` installs, on the root logger:

- stderr: every record;
- ``LOG_DIR/app.log``: every record except the access log;
- ``LOG_DIR/access.log``: only the logger ``rag_chatbot.access`` (one line a request).

``log_format`` (``LOG_FORMAT``) is ``text`` (the default: ``log_text`` describes the lines the
runbook's grep and awk read) or ``json``: one JSON object a line, for log shippers, with
``timestamp`` (ISO-8601, UTC), ``level``, ``logger``, ``event`` (the message), ``pid`` (which
worker of ``serve --workers N`` wrote it), ``request_id`` when the current request has one,
every ``extra={...}`` field, and ``exception`` when there is a traceback. Files use
``WatchedFileHandler``: after logrotate renames or removes a file, the next record reopens it
by name, so no copytruncate is needed (``deploy/logrotate/rag-chatbot``).

Every handler redacts secrets before formatting: values of fields named like a password,
secret, token, API key, authorization or cookie, and bearer tokens, ``sk-...`` keys,
``key=value`` credentials and URL passwords inside messages and string fields.
"""

from __future__ import annotations

import functools
import json
import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from rag_chatbot.errors import ConfigError
from rag_chatbot.observability.log_context import ACCESS_LOGGER, extra_fields, request_id_var
from rag_chatbot.observability.log_text import TextFormatter

__all__ = [
    "ACCESS_LOGGER",
    "LOG_FORMATS",
    "MASK",
    "JsonFormatter",
    "RedactionFilter",
    "configure_logging",
    "redact_text",
    "request_id_var",
]

MASK = "***"
LOG_FORMATS = ("text", "json")

# Marks our handlers so a second configure_logging replaces them instead of adding more.
_OWNED = "_rag_chatbot_handler"
_REDACTED = "_rag_chatbot_redacted"  # set on a record once its secrets are masked

# "tokens" / "max_tokens" / "tokenizer" are counts and names, not credentials.
_SENSITIVE_KEY = re.compile(
    r"password|passwd|secret|api[_-]?key|authorization|cookie|credential|token(?!s|izer)",
    re.IGNORECASE,
)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\1 {MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), f"sk-{MASK}"),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE), rf"\1{MASK}@"),
    (
        re.compile(
            r"\b((?:password|passwd|secret|api[_-]?key|access[_-]?token|token)[\"']?\s*[=:]\s*[\"']?)"
            r"(?!bearer\b|basic\b|\*\*\*)[^\s\"'&,;]+",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
)


# Each pattern above needs one of these: text without any (most of it) skips the four scans.
_MAYBE_SECRET = re.compile(r"bearer|basic|sk-|://|passw|secret|api[_-]?key|token", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with bearer tokens, API keys, ``key=value`` secrets and URL passwords masked."""
    if not _MAYBE_SECRET.search(text):
        return text
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=1024)
def _sensitive_key(key: str) -> bool:
    return _SENSITIVE_KEY.search(key) is not None  # field names repeat: one scan per name


def _redact_value(key: str, value: object) -> object:
    if value is not None and _sensitive_key(key):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return value


class RedactionFilter(logging.Filter):
    """Masks secrets in the record itself, so every handler and formatter sees them masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _REDACTED, False):  # an earlier handler's filter did it
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact_text(message), None
        for key, value in list(extra_fields(record)):
            record.__dict__[key] = _redact_value(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        setattr(record, _REDACTED, True)
        return True


class _LoggerFilter(logging.Filter):
    """Keeps (``keep=True``) or drops records of one logger and its children."""

    def __init__(self, name: str, *, keep: bool) -> None:
        super().__init__()
        self._name, self._keep = name, keep

    def filter(self, record: logging.LogRecord) -> bool:
        matches = record.name == self._name or record.name.startswith(self._name + ".")
        return matches is self._keep


class JsonFormatter(logging.Formatter):
    """One JSON object a line; see the module docstring for the fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, object] = {
            "timestamp": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "pid": record.process,
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in extra_fields(record):
            if key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_dir: Path | None, level: str, log_format: str = "text") -> None:
    """Install the handlers on the root logger, replacing any from an earlier call.

    ``level`` is a standard level name (``LOG_LEVEL``), ``log_format`` one of ``LOG_FORMATS``
    (``LOG_FORMAT``); an unknown one raises ``ValueError``. ``log_dir`` (``LOG_DIR``) is
    created when missing; ``None`` logs to stderr only.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"LOG_LEVEL: unknown level {level!r}")
    if log_format.lower() not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT: unknown format {log_format!r}; use text or json")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OWNED, False)]:
        root.removeHandler(handler)
        handler.close()

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir is not None:
        handlers += _file_handlers(log_dir)

    formatter: logging.Formatter = (
        JsonFormatter() if log_format.lower() == "json" else TextFormatter()
    )
    redaction = RedactionFilter()
    for handler in handlers:
        handler.addFilter(redaction)
        handler.setFormatter(formatter)
        setattr(handler, _OWNED, True)
        root.addHandler(handler)
    root.setLevel(numeric)


def _file_handlers(log_dir: Path) -> list[logging.Handler]:
    """app.log and access.log in ``log_dir``; a directory the service cannot write is a
    ``ConfigError`` naming it (a host directory mounted with the wrong owner, typically)."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        app_log = logging.handlers.WatchedFileHandler(log_dir / "app.log", encoding="utf-8")
        access_log = logging.handlers.WatchedFileHandler(log_dir / "access.log", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"LOG_DIR: cannot write log files in {log_dir} ({exc.strerror or exc}); make it "
            f"writable by the user the service runs as (uid {os.getuid()}), or unset LOG_DIR"
        ) from exc
    app_log.addFilter(_LoggerFilter(ACCESS_LOGGER, keep=False))
    access_log.addFilter(_LoggerFilter(ACCESS_LOGGER, keep=True))
    return [app_log, access_log]
