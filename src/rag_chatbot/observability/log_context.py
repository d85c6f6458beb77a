"""What every log line may carry, shared by the filters, both formatters and the middleware.

- ``request_id_var`` and ``client_address_var``: set by ``ObservabilityMiddleware`` for the
  duration of an HTTP request; ``None`` outside one.
- The loggers whose lines have a fixed shape (contract, see ``log_text``): ``ACCESS_LOGGER``
  (``access.log``, one line a request), ``HTTP_LOGGER`` (``app.log``'s per-request
  ``response_time`` line) and ``AUTH_LOGGER`` (``auth_failed``, one line a refused login).
- ``extra_fields(record)``: the ``extra={...}`` fields of a record, in the order given.
  Attributes whose name starts with ``_`` are hints for a formatter, never fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextvars import ContextVar

ACCESS_LOGGER = "rag_chatbot.access"
HTTP_LOGGER = "rag_chatbot.http"
AUTH_LOGGER = "rag_chatbot.auth"

# The request line's protocol version, for access.log's text form only (not a JSON field).
HTTP_VERSION_HINT = "_http_version"

request_id_var: ContextVar[str | None] = ContextVar("rag_chatbot_request_id", default=None)
client_address_var: ContextVar[str | None] = ContextVar("rag_chatbot_client_address", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def extra_fields(record: logging.LogRecord) -> Iterator[tuple[str, object]]:
    """``(name, value)`` of each field the caller passed in ``extra=``."""
    for key, value in record.__dict__.items():
        if key not in _STANDARD and not key.startswith("_"):
            yield key, value
