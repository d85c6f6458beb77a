"""The rules ``Settings`` checks, and what it decides from them.

Kept out of ``config.py`` so the settings read as a list of variables. Everything here raises
``ValueError`` with a message that starts with the variable at fault; ``load_settings`` turns
those into one ``ConfigError``.

- ``GeneratorChoice``: which answer generator ``LLM_PROVIDER`` selects, with what it needs — a
  discriminated union the container maps to a factory, so no factory re-checks settings;
- ``check_database_url``, ``check_jwt_secret``, ``parse_rate``, ``check_embedder``;
- ``unknown_keys``: lines of a ``.env`` file that look like settings of ours but are none
  (``EMBEDING_MODEL``), which pydantic would otherwise ignore silently.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# The one model this build ships inside a package; nothing may be downloaded at run time.
OFFLINE_MODELS = frozenset({"all-MiniLM-L6-v2"})


class _Choice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExtractiveChoice(_Choice):
    """Answers quoted from the passages; no model server, no key."""

    kind: Literal["extractive"] = "extractive"


class OpenAIChoice(_Choice):
    """An OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, LM Studio)."""

    kind: Literal["openai"] = "openai"
    model: str
    base_url: str | None
    api_key: str | None


class GeminiChoice(_Choice):
    """Google's Gemini API."""

    kind: Literal["gemini"] = "gemini"
    model: str
    base_url: str | None
    api_key: str


GeneratorChoice = Annotated[
    ExtractiveChoice | OpenAIChoice | GeminiChoice, Field(discriminator="kind")
]


def choose_generator(
    provider: str,
    *,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    context_tokens: int,
    answer_tokens: int,
) -> ExtractiveChoice | OpenAIChoice | GeminiChoice:
    """The generator ``LLM_PROVIDER`` names, or ``ValueError`` naming what it lacks."""
    if provider == "extractive":
        return ExtractiveChoice()
    if not model:
        raise ValueError(f"LLM_MODEL: required when LLM_PROVIDER={provider}")
    if answer_tokens >= context_tokens:
        raise ValueError("LLM_MAX_TOKENS: must be smaller than LLM_CONTEXT_TOKENS")
    if provider == "gemini":
        if not api_key:
            raise ValueError("LLM_API_KEY: required when LLM_PROVIDER=gemini")
        return GeminiChoice(model=model, base_url=base_url, api_key=api_key)
    if not base_url and not api_key:
        raise ValueError("LLM_API_KEY: required for api.openai.com (or set LLM_BASE_URL)")
    return OpenAIChoice(model=model, base_url=base_url, api_key=api_key)


def check_embedder(provider: str, model: str, *, base_url: str | None, api_key: str | None) -> None:
    """Refuse a model this build cannot run, or a server it cannot ask without a key.

    ``onnx`` and ``sentence-transformers`` run the model shipped in a package; ``openai`` asks
    a server for any model it serves.
    """
    if provider != "openai":
        if model not in OFFLINE_MODELS:
            shipped = ", ".join(repr(m) for m in sorted(OFFLINE_MODELS))
            raise ValueError(
                f"EMBEDDING_MODEL: {model!r} is not available offline; this build ships "
                f"{shipped} (or set EMBEDDING_PROVIDER=openai and EMBEDDING_BASE_URL to a "
                "server that serves it)"
            )
        return
    if base_url and not re.match(r"^https?://[^/\s]+", base_url):
        raise ValueError("EMBEDDING_BASE_URL: must be an http:// or https:// address")
    if not base_url and not api_key:
        raise ValueError(
            "EMBEDDING_API_KEY: required for api.openai.com (or set EMBEDDING_BASE_URL)"
        )


_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_KNOWN_WEAK = {"secret", "changeme", "change-me", "change_me", "default", "jwt-secret"}
MIN_SECRET_CHARS = 32


def parse_rate(value: str) -> tuple[int, int]:
    """``"30/minute"`` → ``(30, 60)``: requests allowed per window of that many seconds."""
    count, _, period = value.strip().partition("/")
    seconds = _PERIODS.get(period.strip().lower().removesuffix("s"))
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"expected N/second|minute|hour|day, got {value!r}")
    return int(count), seconds


_URL_EXAMPLES = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/DB"
# Backends and the drivers this build ships for them ("": the backend's default).
_DATABASES = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg"), "postgres": ("",)}


def check_database_url(url: str) -> None:
    """Refuse a URL that is not SQLite or PostgreSQL through a driver we ship.

    The URL is never repeated (it may hold a password); its scheme may be.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        scheme = make_url(url).drivername
    except ArgumentError:
        raise ValueError(f"not a database URL ({_URL_EXAMPLES})") from None
    backend, _, driver = scheme.partition("+")
    if backend not in _DATABASES:
        raise ValueError(
            f"{backend} is not supported, only SQLite and PostgreSQL ({_URL_EXAMPLES})"
        )
    if driver not in _DATABASES[backend]:
        raise ValueError(f"the driver {scheme} is not installed ({_URL_EXAMPLES})")


def check_jwt_secret(secret: str | None) -> None:
    """Refuse a missing, known-default or short JWT secret (outside development)."""
    if not secret:
        raise ValueError("JWT_SECRET_KEY must be set outside ENVIRONMENT=development")
    lowered = secret.lower()
    if lowered in _KNOWN_WEAK or ("change" in lowered and "me" in lowered):
        raise ValueError("JWT_SECRET_KEY is a default value; generate one (openssl rand -hex 32)")
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"JWT_SECRET_KEY must be at least {MIN_SECRET_CHARS} characters")


_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def unknown_keys(env_file: Path, settings: Iterable[str]) -> list[str]:
    """One message per ``.env`` key that is almost the name of a setting but is none.

    "Almost": the spelling is close to a setting's (``EMBEDING_MODEL``, ``LLM_MODLE``). Other
    keys — compose's ``POSTGRES_PASSWORD``, the scripts' ``BACKUP_DIR`` — are left alone.
    """
    try:
        lines = env_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    names = sorted(name.upper() for name in settings)
    known = set(names)
    messages = []
    for line in lines:
        found = _ASSIGNMENT.match(line)
        if not found or found.group(1).upper() in known:
            continue
        key = found.group(1).upper()
        if any(key.endswith("_" + name) for name in names):
            continue  # a setting's name under another tool's prefix (DR_DATABASE_URL)
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.85)
        if close:
            messages.append(f"{env_file}: {key} is not a setting; did you mean {close[0]}?")
    return messages
