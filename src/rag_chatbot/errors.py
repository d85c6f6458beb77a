"""The exception tree. Every error the package raises on purpose derives from one root.

    RagChatbotError                 error_code
    ├── ConfigError                 (start-up: a bad setting, named)
    ├── InvalidInput                INVALID_INPUT
    │   └── FileTooLarge            FILE_TOO_LARGE
    ├── NotFound                    NOT_FOUND
    │   └── SessionNotFound         SESSION_NOT_FOUND
    ├── Unauthorized                UNAUTHORIZED (no, bad, expired or revoked credentials)
    ├── Forbidden                   FORBIDDEN (known caller, not allowed)
    ├── RateLimited                 RATE_LIMIT_EXCEEDED (carries retry_after)
    ├── ServiceUnavailable          SERVICE_UNAVAILABLE (a dependency is down; try later)
    ├── IngestionError              PROCESSING_ERROR
    │   └── UnsupportedFormat       UNSUPPORTED_FORMAT
    ├── RetrievalError              CONTEXT_RETRIEVAL_ERROR
    └── ProviderError               (a backend failed)
        ├── EmbeddingError          EMBEDDING_ERROR
        ├── ProviderUnavailable     SERVICE_UNAVAILABLE
        └── ProviderTimeout         SERVICE_UNAVAILABLE

Vendor exceptions are wrapped with ``raise ... from exc`` so the cause stays visible.
"""

from __future__ import annotations


class RagChatbotError(Exception):
    """Root of every deliberate error; ``error_code`` is the stable contract code."""

    error_code = "PROCESSING_ERROR"


class ConfigError(RagChatbotError):
    """A setting is missing or invalid; the message names the variable."""

    error_code = "INVALID_INPUT"


class InvalidInput(RagChatbotError):
    """The caller's input cannot be used as given."""

    error_code = "INVALID_INPUT"


class NotFound(RagChatbotError):
    """The thing asked for does not exist."""

    error_code = "NOT_FOUND"


class SessionNotFound(NotFound):
    """The chat session does not exist (or is not the caller's)."""

    error_code = "SESSION_NOT_FOUND"


class FileTooLarge(InvalidInput):
    """An upload is over the size limit."""

    error_code = "FILE_TOO_LARGE"


class Unauthorized(RagChatbotError):
    """The request has no valid credentials (missing, malformed, expired or revoked)."""

    error_code = "UNAUTHORIZED"


class Forbidden(RagChatbotError):
    """The caller may not do this."""

    error_code = "FORBIDDEN"


class RateLimited(RagChatbotError):
    """Too many requests; ``retry_after`` seconds until the window resets."""

    error_code = "RATE_LIMIT_EXCEEDED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(RagChatbotError):
    """A dependency the request needs is down; the request can be retried later."""

    error_code = "SERVICE_UNAVAILABLE"


class IngestionError(RagChatbotError):
    """A document could not be loaded or indexed; the message says why."""

    error_code = "PROCESSING_ERROR"


class UnsupportedFormat(IngestionError):
    """The file's type is not one we can read."""

    error_code = "UNSUPPORTED_FORMAT"


class RetrievalError(RagChatbotError):
    """Searching the index failed."""

    error_code = "CONTEXT_RETRIEVAL_ERROR"


class ProviderError(RagChatbotError):
    """A backend (model, vector store, cache, LLM) failed."""

    error_code = "AI_SERVICE_ERROR"


class EmbeddingError(ProviderError):
    """The embedding model could not be loaded or failed on input."""

    error_code = "EMBEDDING_ERROR"


class ProviderUnavailable(ProviderError):
    """A backend cannot be reached or is not installed."""

    error_code = "SERVICE_UNAVAILABLE"


class ProviderTimeout(ProviderError):
    """A backend did not answer in time."""

    error_code = "SERVICE_UNAVAILABLE"
