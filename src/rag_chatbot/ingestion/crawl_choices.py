"""A crawl as a person asks for it: a schedule like ``24h`` and options over the server's.

The command line (``rag-chatbot ingest URL --every 24h``) and the API (``POST /api/sources``)
take the same words, so both read them here and refuse the same input with the same message.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from rag_chatbot.crawl import CrawlOptions
from rag_chatbot.crawl.urls import normalise
from rag_chatbot.durations import seconds_of
from rag_chatbot.errors import InvalidInput

_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
# The longest schedule: ten years. Longer is a typo, and overflows a 32-bit column.
MAX_EVERY = 3650 * 86400


def parse_every(text: str, name: str = "--every") -> int:
    """Seconds of ``30m``, ``24h``, ``7d`` (at least a minute); ``name`` is the option told."""
    written = seconds_of(text, "smhd", fractions=True)
    if written is None:
        raise InvalidInput(f"{name} must be a number and a unit (s, m, h, d), like 24h: {text!r}")
    seconds = int(written)
    if seconds < 60:
        raise InvalidInput(f"{name} must be at least a minute, not {text!r}")
    if seconds > MAX_EVERY:
        raise InvalidInput(f"{name} must be at most 3650d, not {text!r}")
    return seconds


def crawlable(url: str) -> str:
    """``url`` if a crawl can start there (http or https, with a host); else ``InvalidInput``."""
    if not _SCHEME.match(url) or normalise(url) is None:
        raise InvalidInput(f"url must be an http:// or https:// address with a host: {url!r}")
    return url


def crawl_options(
    defaults: CrawlOptions,
    include: list[str],
    exclude: list[str],
    max_pages: int | None,
    depth: int | None,
) -> CrawlOptions:
    """``defaults`` (the server's ``CRAWL_*`` settings) with what was asked for on top."""
    chosen: dict[str, Any] = {"include": tuple(include), "exclude": tuple(exclude)}
    if max_pages is not None:
        chosen["max_pages"] = max_pages
    if depth is not None:
        chosen["max_depth"] = depth
    return dataclasses.replace(defaults, **chosen)
