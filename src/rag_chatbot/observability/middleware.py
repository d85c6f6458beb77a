"""ObservabilityMiddleware: request ids, HTTP metrics and the per-request log lines, as pure ASGI.

Pure ASGI rather than ``BaseHTTPMiddleware`` so streamed responses (SSE) pass through chunk by
chunk, unbuffered. Add it last (``app.add_middleware(ObservabilityMiddleware)``) so it is the
outermost user middleware and its duration covers the others.

Metrics are labelled with the route *template* (``/api/sessions/{session_id}``), never the
raw path, so label cardinality stays bounded; requests no route matched get ``<unmatched>``.
Responses produced outside it (Starlette's ``ServerErrorMiddleware`` for an unhandled
exception) are counted as 500 but carry no ``X-Request-ID`` header.

Each request writes two lines (contract, ``log_text``): ``response_time`` on the logger
``rag_chatbot.http`` (app.log) and ``http_request`` on ``rag_chatbot.access`` (access.log).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from rag_chatbot.observability.log_context import (
    ACCESS_LOGGER,
    HTTP_LOGGER,
    HTTP_VERSION_HINT,
    client_address_var,
    request_id_var,
)
from rag_chatbot.observability.metrics import UNMATCHED_ROUTE, record_http_request

if TYPE_CHECKING:  # only the ASGI type aliases: the middleware itself needs no Starlette
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"

_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Anything else becomes OTHER: a client must not be able to mint new label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The ids this service makes: lower-case consonants, ~112 bits. No digits, so an id never
# reads as a status to `grep "401\|403" access.log`; no vowels, so it never spells a word
# the runbook greps for ("error", "auth").
_ID_ALPHABET = "bcdfghjklmnpqrstvwxz"
_ID_LENGTH = 26

access_log = logging.getLogger(ACCESS_LOGGER)
http_log = logging.getLogger(HTTP_LOGGER)


class ObservabilityMiddleware:
    """Wraps an ASGI app; HTTP requests get an id, metrics and one access-log line.

    The request id is the incoming ``X-Request-ID`` when it is 1-64 characters of
    ``[A-Za-z0-9._-]``, else a new one (``new_request_id``). It is set in ``request_id_var``
    (and the client's address in ``client_address_var``) for the request's duration and
    echoed in the response's ``X-Request-ID`` header. The duration runs from the request's
    arrival to its response's last byte. Websocket and lifespan scopes pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        root_path = scope.get("root_path", "")
        started = time.perf_counter()
        status: int | None = None
        finished: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (key, value)
                    for key, value in message.get("headers", [])
                    if key.lower() != _HEADER_KEY
                ]
                headers.append((_HEADER_KEY, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                # The last byte is handed over: the response time ends here, not after the
                # background tasks (an upload's indexing) that run before the app returns.
                finished = time.perf_counter()

        client = scope.get("client")
        token = request_id_var.set(request_id)
        client_token = client_address_var.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # An exception before the response started becomes a 500 further out.
            final_status = 500 if status is None else status
            ended = time.perf_counter() if finished is None else finished
            _record(scope, root_path, request_id, final_status, ended - started)
            client_address_var.reset(client_token)
            request_id_var.reset(token)


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == _HEADER_KEY:
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return new_request_id()


def new_request_id() -> str:
    """A fresh request id: 26 random letters of ``_ID_ALPHABET`` (see there why)."""
    return "".join(
        _ID_ALPHABET[byte % len(_ID_ALPHABET)] for byte in secrets.token_bytes(_ID_LENGTH)
    )


def _record(scope: Scope, root_path: str, request_id: str, status: int, seconds: float) -> None:
    method = scope.get("method", "GET")
    method_label = method if method in _METHODS else "OTHER"
    route = route_template(scope, root_path)
    record_http_request(method_label, route, status, seconds)
    client = scope.get("client")
    # scope["path"] never includes the query string, which may carry tokens.
    path = scope.get("path", "")
    duration_ms = round(seconds * 1000, 2)
    http_log.info(
        "response_time",
        extra={
            "duration_ms": duration_ms,
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "request_id": request_id,
        },
    )
    access_log.log(
        logging.WARNING if status >= 500 else logging.INFO,
        "http_request",
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
            "client": client[0] if client else None,
            HTTP_VERSION_HINT: scope.get("http_version", "1.1"),
        },
    )


def route_template(scope: Scope, root_path: str = "") -> str:
    """The template of the route that handled ``scope`` (after routing), or ``<unmatched>``.

    Starlette leaves the matched route in ``scope["route"]``. FastAPI >= 0.16x keeps there
    the route of the *included* router, whose path lacks the ``include_router`` prefixes, and
    mounted sub-apps see paths relative to their mount: in both cases the missing prefix is
    recovered from the concrete path (the part before the route's own pattern matches).
    ``root_path`` is the one the request arrived with (a proxy's prefix, not ours to label).
    """
    path = scope.get("path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if route is None or not isinstance(template, str):
        return _mount_template(scope, root_path)
    pattern = getattr(route, "path_regex", None)
    if isinstance(pattern, re.Pattern):
        return _matched_prefix(path, pattern) + template
    return template


def _matched_prefix(path: str, pattern: re.Pattern[Any]) -> str:
    starts = [0, *(i for i, char in enumerate(path) if char == "/" and i > 0)]
    for start in starts:
        if pattern.match(path[start:]):
            return path[:start]
    return ""


def _mount_template(scope: Scope, root_path: str) -> str:
    # FastAPI's router does not set scope["route"] for a Mount (e.g. StaticFiles) but grows
    # root_path by the mount's path: label the mount, not the file.
    mounted: str = scope.get("root_path", "")
    if "endpoint" in scope and mounted.startswith(root_path) and len(mounted) > len(root_path):
        return mounted[len(root_path) :] + "/{path}"
    return UNMATCHED_ROUTE
