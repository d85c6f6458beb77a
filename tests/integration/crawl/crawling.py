"""Crawling a local site in tests: options for 127.0.0.1, a crawl, the known state it leaves."""

from __future__ import annotations

from typing import Any

from rag_chatbot.crawl import Crawler, CrawlOptions, CrawlSummary, KnownPage, Page


def options(**changes: Any) -> CrawlOptions:
    """Options for a local site: 127.0.0.1 allowed, fast, short timeouts and backoff."""
    chosen: dict[str, Any] = {
        "allowed_hosts": ("127.0.0.1",),
        "rate": 500.0,
        "timeout": 5.0,
        "backoff": 0.05,
    }
    return CrawlOptions(**{**chosen, **changes})


def crawl(
    start: str, chosen: CrawlOptions | None = None, known: dict[str, KnownPage] | None = None
) -> tuple[list[Page], CrawlSummary]:
    crawler = Crawler(start, chosen or options(), known or {})
    pages = list(crawler.pages())
    return pages, crawler.summary


def known_from(pages: list[Page]) -> dict[str, KnownPage]:
    """What a store keeps of a crawl: the pages it indexed, as the next crawl's known state."""
    return {
        page.url: KnownPage(
            page.url, page.etag, page.last_modified, page.content_hash, page.links, page.fetched_at
        )
        for page in pages
        if page.status in ("fetched", "unchanged")
    }


def by_url(pages: list[Page]) -> dict[str, Page]:
    found: dict[str, Page] = {}
    for page in pages:
        assert page.url not in found, f"{page.url} reported twice"
        found[page.url] = page
    return found
