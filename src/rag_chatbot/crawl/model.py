"""The crawler's value types: what it is asked (options, known pages) and what it reports.

``Page.status`` is one of:

- ``fetched``: a new or changed body is in ``content``; ``extension`` tells ``load_bytes``
  how to read it.
- ``unchanged``: the store's copy is current (a 304 answer, a sitemap ``<lastmod>`` not newer
  than ``KnownPage.fetched_at``, or a body whose hash equals the known one); no content.
- ``gone``: the server answered 404 or 410.
- ``failed``: an error that may pass (network, 5xx after retries, 403, a refused address).
- ``skipped``: deliberately not read (robots.txt, type, size, a redirect off the site, noindex,
  not matched by the include globs).
- ``duplicate``: the same page as one reported earlier in this crawl (same body, a redirect or
  ``rel=canonical`` to it); ``reason`` names it. A duplicate's ``url`` is never the URL of a page
  reported as fetched or unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rag_chatbot import __version__
from rag_chatbot.errors import InvalidInput

STATUSES = ("fetched", "unchanged", "gone", "failed", "skipped", "duplicate")
MIB = 1024 * 1024


@dataclass(frozen=True)
class CrawlOptions:
    """How far and how fast to crawl; every bound holds per crawl (see docs of each field)."""

    include: tuple[str, ...] = ()  # URL-path globs ('/guide/*'); empty = everything in scope
    exclude: tuple[str, ...] = ()
    max_pages: int = 5000  # URLs visited: requested, or reported unchanged from the sitemap
    max_depth: int = 50  # links followed from a seed (the start URL or a sitemap entry)
    allowed_hosts: tuple[str, ...] = ()  # hosts, IPs or CIDRs allowed although private
    concurrency: int = 4  # requests at once per host
    rate: float = 8.0  # requests per second per host (robots.txt Crawl-delay can lower it)
    timeout: float = 20.0  # seconds per request, body included
    max_bytes: int = 32 * MIB  # per response; larger ones are abandoned unread
    max_total_bytes: int = 2 * 1024 * MIB
    retries: int = 3  # on 5xx/429/timeouts/broken connections
    user_agent: str = f"rag-chatbot/{__version__}"
    backoff: float = 0.5  # seconds before the first retry, doubled at each
    retry_after_cap: float = 30.0  # longest Retry-After honoured (seconds)
    max_redirects: int = 10
    recheck_gone: float = 7 * 86400.0  # seconds a known dead link is taken as still dead

    def __post_init__(self) -> None:
        positive = {
            "max_pages": self.max_pages,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "timeout": self.timeout,
            "max_bytes": self.max_bytes,
            "max_total_bytes": self.max_total_bytes,
        }
        for name, value in positive.items():
            if value <= 0:
                raise InvalidInput(f"crawl option {name} must be positive, not {value}")
        for name, value in {
            "max_depth": self.max_depth,
            "retries": self.retries,
            "backoff": self.backoff,
            "retry_after_cap": self.retry_after_cap,
            "max_redirects": self.max_redirects,
            "recheck_gone": self.recheck_gone,
        }.items():
            if value < 0:
                raise InvalidInput(f"crawl option {name} must not be negative, not {value}")
        if not self.user_agent.strip():
            raise InvalidInput("crawl option user_agent must not be empty")

    @property
    def agent_token(self) -> str:
        """The product token robots.txt groups are matched against ('rag-chatbot')."""
        return self.user_agent.split("/", 1)[0].split()[0]


@dataclass(frozen=True)
class KnownPage:
    """What the store remembers of a page from the last crawl (a fetched or unchanged page)."""

    url: str
    etag: str | None
    last_modified: str | None  # the HTTP header as received
    content_hash: str
    links: tuple[str, ...]  # the in-scope links the page had, so a 304 still leads on
    fetched_at: datetime | None = None  # Page.fetched_at; naive values are taken as UTC
    # A dead link (404/410 at ``fetched_at``): not asked again until ``CrawlOptions.recheck_gone``
    # has passed, unless the sitemap says it changed since.
    gone: bool = False


@dataclass(frozen=True)
class Page:
    """One URL's outcome. See the module docstring for what each status promises."""

    url: str  # final, normalised URL (after redirects and rel=canonical)
    status: str
    content: bytes | None  # the body when fetched
    content_type: str  # e.g. "text/html"; "" when no response said
    extension: str  # the loader hint: .html .pdf .docx .epub .md .mdx .rst .txt ("" if unread)
    etag: str | None
    last_modified: str | None
    content_hash: str  # sha256 hex of the body (unchanged pages: the known one)
    links: tuple[str, ...]  # in-scope links found (unchanged pages: the known ones)
    reason: str = ""  # why failed/skipped/gone/duplicate, one line a user can act on
    fetched_at: datetime | None = None  # the server's Date (else ours) when the body was current
    depth: int = 0  # links followed from a seed to reach it


def one_line(text: str, limit: int = 400) -> str:
    """A reason as one line of at most ``limit`` characters (server messages can be long)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def bare_page(url: str, status: str, reason: str, depth: int = 0) -> Page:
    """A page with no body: gone, failed, skipped or duplicate."""
    return Page(
        url=url,
        status=status,
        content=None,
        content_type="",
        extension="",
        etag=None,
        last_modified=None,
        content_hash="",
        links=(),
        reason=one_line(reason),
        depth=depth,
    )


@dataclass
class CrawlSummary:
    """Counts of one crawl, final once ``Crawler.pages()`` is exhausted.

    ``complete`` is False when a limit (max_pages, max_total_bytes) stopped the crawl with URLs
    left, a sitemap named as the start could not be read whole, or the caller stopped early:
    known pages missing from ``seen`` may then still exist. ``seen`` holds the ``url`` of every
    page reported, whatever its status.
    """

    fetched: int = 0
    unchanged: int = 0
    gone: int = 0
    failed: int = 0
    skipped: int = 0
    duplicates: int = 0
    bytes: int = 0  # bodies read, robots.txt and sitemaps included
    requests: int = 0
    seconds: float = 0.0
    complete: bool = True
    stopped: str = ""  # why the crawl is not complete
    warnings: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def count(self, page: Page) -> None:
        """Add one reported page to the counts."""
        attribute = "duplicates" if page.status == "duplicate" else page.status
        setattr(self, attribute, getattr(self, attribute) + 1)
        self.seen.add(page.url)

    def stop(self, reason: str) -> None:
        """Mark the crawl incomplete; the first reason is kept."""
        self.complete = False
        self.stopped = self.stopped or reason
