"""The text log format (``LOG_FORMAT=text``, the default): lines the runbook's grep and awk read.

``app.log`` and stderr, one line a record (contract)::

    <timestamp> <LEVEL> <logger> <event> key=value ...

- ``timestamp``: ISO-8601 UTC with milliseconds (``2025-01-31T12:00:00.123Z``).
- ``LEVEL``: the level's name; ``CRITICAL`` is written ``CRITICAL_ERROR`` so that
  ``grep -i error`` finds every error and nothing else.
- ``logger``: its name without ``error``/``errors`` parts (uvicorn's general logger is
  ``uvicorn.error``: its start-up lines are not errors), so ``uvicorn.error`` reads ``uvicorn``.
- ``event`` and each value: bare when they hold no space, ``"``, ``=``, ``\\`` or control
  character, else a double-quoted JSON string (``reason="wrong username or password"``).
  ``None`` is ``-``, booleans ``true``/``false``, lists and mappings compact JSON.
- The fields in the order given, then ``request_id=`` inside a request. A field named
  ``response_time`` is written ``latency_ms``: only the per-request line says
  ``response_time`` (below), so ``grep response_time`` finds those alone.
- A traceback or stack follows on continuation lines indented by four spaces.

The per-request line (logger ``rag_chatbot.http``) puts its duration, in whole milliseconds,
right after the event, so ``awk '{print $5}'`` prints it::

    <timestamp> INFO rag_chatbot.http response_time <ms> method=GET path=/api/health \
route=/api/health status=200 request_id=<id>

``access.log`` (logger ``rag_chatbot.access``), one line a request::

    <timestamp> <client> "<METHOD> <path> HTTP/<version>" <status> <ms> <request_id>

Here the timestamp stops at whole seconds and the path is percent-encoded, so that
``grep "401\\|403" access.log`` meets those digits only in a status (or in a path, a client
address or a request id that holds them: the ids the service makes have no digits).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from rag_chatbot.observability.log_context import (
    ACCESS_LOGGER,
    HTTP_LOGGER,
    HTTP_VERSION_HINT,
    extra_fields,
    request_id_var,
)

INDENT = "    "

_BARE = re.compile(r'[^\s"=\\\x00-\x1f\x7f]+')
# uvicorn's ANSI-coloured copy of the message: noise in a file.
_DROPPED = frozenset({"color_message"})
_RENAMED = {"response_time": "latency_ms"}
_LEVELS = {"CRITICAL": "CRITICAL_ERROR"}
_NOT_ERRORS = frozenset({"error", "errors"})
# Path characters kept as they are in access.log; everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def text_value(value: object) -> str:
    """``value`` as one token: bare, or a JSON string when it would break the line apart."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = str(value)
    if _BARE.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def logger_label(name: str) -> str:
    """The logger's name as the text form shows it: without ``error``/``errors`` parts."""
    parts = [part for part in name.split(".") if part.lower() not in _NOT_ERRORS]
    return ".".join(parts) or "-"


def _timestamp(created: float, *, millis: bool) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    if millis:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _milliseconds(value: object) -> str:
    return str(round(value)) if isinstance(value, int | float) else "-"


class TextFormatter(logging.Formatter):
    """One text line a record (plus indented traceback lines); see the module docstring."""

    def format(self, record: logging.LogRecord) -> str:
        access = record.name == ACCESS_LOGGER
        line = self._access_line(record) if access else self._app_line(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        tail = [record.exc_text] if record.exc_text else []
        if record.stack_info:
            tail.append(self.formatStack(record.stack_info))
        for text in tail:
            line += "".join(f"\n{INDENT}{part}" for part in text.splitlines())
        return line

    def _app_line(self, record: logging.LogRecord) -> str:
        words = [
            _timestamp(record.created, millis=True),
            _LEVELS.get(record.levelname, record.levelname),
            logger_label(record.name),
            text_value(record.getMessage()),
        ]
        fields = dict(extra_fields(record))
        if record.name == HTTP_LOGGER:
            words.append(_milliseconds(fields.pop("duration_ms", None)))
        request_id = request_id_var.get()
        if request_id is not None and "request_id" not in fields:
            fields["request_id"] = request_id
        for key, value in fields.items():
            if key not in _DROPPED:
                words.append(f"{_RENAMED.get(key, key)}={text_value(value)}")
        return " ".join(words)

    def _access_line(self, record: logging.LogRecord) -> str:
        fields = dict(extra_fields(record))
        method = quote(str(fields.get("method") or "-"), safe="")
        path = quote(str(fields.get("path") or "-"), safe=_PATH_SAFE)
        version = quote(str(getattr(record, HTTP_VERSION_HINT, None) or "1.1"), safe=".")
        request_id = fields.get("request_id") or request_id_var.get()
        return " ".join(
            [
                _timestamp(record.created, millis=False),
                text_value(fields.get("client")),
                f'"{method} {path} HTTP/{version}"',
                text_value(fields.get("status")),
                _milliseconds(fields.get("duration_ms")),
                text_value(request_id),
            ]
        )
