"""One place that maps errors to HTTP status and a stable ``error_code`` (contract)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag_chatbot import errors

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
_STATUS: list[tuple[type[errors.RagChatbotError], int]] = [
    (errors.SessionNotFound, 404),
    (errors.NotFound, 404),
    (errors.FileTooLarge, 413),
    (errors.UnsupportedFormat, 415),
    (errors.InvalidInput, 422),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.RateLimited, 429),
    (errors.ServiceUnavailable, 503),
    (errors.IngestionError, 422),
    (errors.EmbeddingError, 503),
    (errors.RetrievalError, 503),
    (errors.ProviderError, 503),
]
_HTTP_CODES = {
    400: "INVALID_INPUT",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "INVALID_INPUT",
    413: "FILE_TOO_LARGE",
    415: "UNSUPPORTED_FORMAT",
    422: "INVALID_INPUT",
    429: "RATE_LIMIT_EXCEEDED",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(detail: str, error_code: str) -> dict[str, str]:
    """``{"detail", "error_code", "timestamp"}``: the body of an error response or event."""
    return {"detail": detail, "error_code": error_code, "timestamp": datetime.now(UTC).isoformat()}


def stream_error(exc: Exception) -> dict[str, str]:
    """The body of the ``error`` event that ends a stream which failed after it started.

    The status line has gone out, so the failure is told in the stream, with the API's error
    body; anything but our own errors (a database that refused the reply, say) is logged and
    told as ``internal error`` / ``PROCESSING_ERROR``, as a 500 would be.
    """
    if isinstance(exc, errors.RagChatbotError):
        return error_body(str(exc), exc.error_code)
    log.error("stream failed", exc_info=exc, extra={"error_code": "PROCESSING_ERROR"})
    return error_body("internal error", "PROCESSING_ERROR")


def error_response(status: int, detail: str, error_code: str) -> JSONResponse:
    return JSONResponse(error_body(detail, error_code), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Every 4xx/5xx leaves as ``{"detail", "error_code", "timestamp"}``, never a traceback."""

    @app.exception_handler(errors.RagChatbotError)
    async def _ours(_: Request, exc: errors.RagChatbotError) -> JSONResponse:
        status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)
        if status >= 500:
            log.error("request failed", extra={"error_code": exc.error_code, "reason": str(exc)})
        response = error_response(status, str(exc), exc.error_code)
        if isinstance(exc, errors.Unauthorized):
            response.headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, errors.RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}"
            for err in exc.errors()
        )
        return error_response(422, problems or "invalid request", "INVALID_INPUT")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(
            exc.status_code, "INVALID_INPUT" if exc.status_code < 500 else "PROCESSING_ERROR"
        )
        response = error_response(exc.status_code, str(exc.detail), code)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"error_code": "PROCESSING_ERROR"})
        return error_response(500, "internal error", "PROCESSING_ERROR")
