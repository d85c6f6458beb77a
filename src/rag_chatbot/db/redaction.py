"""Obvious secrets taken out of a reader's question before it is stored.

Readers paste what they have in front of them: a failing ``curl`` with its bearer token, a
connection string with its password, an API key. A stored question is kept in the history and
shown to the documentation's owners (analytics), so the secret would outlive the question.
``redact_secrets`` replaces the secret part with ``[REDACTED]`` and keeps the rest, so the
question still reads as asked. It looks for what is recognisably a credential: a bearer or basic
token, a password in a URL, a ``key=value`` pair under a secret's name, and the shapes of
well-known keys (OpenAI, GitHub, Slack, AWS, Google, Stripe, Hugging Face, GitLab, JWTs, PEM
private keys). It does not guess at random-looking words: a commit hash is not a secret.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

_SECRET_NAMES = (
    r"api[_-]?key|apikey|access[_-]?key|secret[_-]?key|access[_-]?token|refresh[_-]?token|"
    r"id[_-]?token|auth[_-]?token|token|secret|client[_-]?secret|password|passwd|pwd|"
    r"private[_-]?key|signature|sig|authorization"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?=@)", re.I)
_SCHEME_TOKEN = re.compile(r"(?P<head>\b(?:bearer|basic|token)\s+)(?P<value>[\w\-.~+/]+=*)", re.I)
_NAMED_VALUE = re.compile(
    rf"(?P<head>\b(?:{_SECRET_NAMES})\b[\"']?\s*(?P<sep>[:=])\s*[\"']?)(?P<value>[^\s\"'&,;]+)",
    re.I,
)
_KNOWN_SHAPES = re.compile(
    r"\b(?:"
    r"sk-[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r")"
)


def _looks_secret(value: str) -> bool:
    """A value that reads as a credential rather than a word: letters with digits or symbols,
    or long. ``Basic setup`` and ``password: required?`` keep their words."""
    if REDACTED in value:
        return False
    if len(value) >= 16:
        return True
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    has_symbol = any(not c.isalnum() for c in value)
    return len(value) >= 6 and has_alpha and (has_digit or has_symbol)


def _scheme_token(match: re.Match[str]) -> str:
    value = match["value"]
    return match["head"] + REDACTED if _looks_secret(value) else match[0]


def _named_value(match: re.Match[str]) -> str:
    value = match["value"]
    # After "=" anything is a value (a query string's password); after ":" only what looks
    # like one, since "token: how long does it last?" is a question.
    if REDACTED in value or (match["sep"] == ":" and not _looks_secret(value)):
        return match[0]
    return match["head"] + REDACTED


def redact_secrets(text: str) -> str:
    """``text`` with every obvious secret replaced by ``[REDACTED]`` (see module doc)."""
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _KNOWN_SHAPES.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + REDACTED, text)
    text = _SCHEME_TOKEN.sub(_scheme_token, text)
    return _NAMED_VALUE.sub(_named_value, text)
