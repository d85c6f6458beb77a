"""Obvious secrets come out of a question before it is stored; ordinary words stay."""

from __future__ import annotations

import pytest

from rag_chatbot.db.redaction import redact_secrets


@pytest.mark.parametrize(
    ("asked", "stored"),
    [
        (
            'curl -H "Authorization: Bearer eyJraWQiOiJhYmMxMjMifQ" https://x/api',
            'curl -H "Authorization: Bearer [REDACTED]" https://x/api',
        ),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED]"),
        (
            "postgresql://app:s3cret@db:5432/x refuses me",
            "postgresql://app:[REDACTED]@db:5432/x refuses me",
        ),
        ("https://x.org/feed?api_key=ZZZ&page=2", "https://x.org/feed?api_key=[REDACTED]&page=2"),
        ("password=hunter2, then what?", "password=[REDACTED], then what?"),
        ("my api_key: AbC123xyz is refused", "my api_key: [REDACTED] is refused"),
        ('X-Api-Key: "k3y-v4lue-here"', 'X-Api-Key: "[REDACTED]"'),
        ("key sk-proj-abcdefghijklmnopqrstuvwx is invalid", "key [REDACTED] is invalid"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked?", "[REDACTED] leaked?"),
        ("aws AKIAABCDEFGHIJKLMNOP", "aws [REDACTED]"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstuv", "google [REDACTED]"),
        ("token xoxb-1234567890-abcdefghij", "token [REDACTED]"),
        ("hf_abcdefghijklmnopqrstuvwxyz12345 works?", "[REDACTED] works?"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIz ok?",
            "jwt [REDACTED] ok?",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY----- help",
            "[REDACTED] help",
        ),
    ],
)
def test_secrets_are_redacted(asked: str, stored: str) -> None:
    assert redact_secrets(asked) == stored


@pytest.mark.parametrize(
    "question",
    [
        "What is a bearer token?",
        "Basic setup of the lamp?",
        "token: how long does it last?",
        "What is the password policy?",
        "Which commit 3f2a9c1b7e8d4f5a6b7c8d9e0f1a2b3c4d5e6f7a broke it?",
        "See https://example.org/docs/install#secret-sauce",
        "How is the lamp wick trimmed?",
    ],
)
def test_questions_without_secrets_are_kept_as_asked(question: str) -> None:
    assert redact_secrets(question) == question


def test_redacting_twice_changes_nothing_more() -> None:
    once = redact_secrets("password=abc&token=Zx9y8w7v6u5t postgresql://u:p4ss@h/d")
    assert redact_secrets(once) == once
