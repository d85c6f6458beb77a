"""One URL of a crawl, from the known state to the page reported.

The decisions, in order: a sitemap ``<lastmod>`` not newer than the last fetch answers without
a request; robots.txt may forbid the URL; the request carries the known validators (each
redirect hop its own) and each hop must stay on the site, in scope and allowed; the answer
gives the status; a body's ``rel=canonical``, hash and robots directives decide between
fetched, unchanged, duplicate and skipped.

Every decision reads the crawl's shared state (``seen``, ``hashes``) without awaiting
between the read and the caller's ``CrawlState.record``, so two workers never claim one URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from rag_chatbot.crawl.fetch import Fetcher, FetchError, Response
from rag_chatbot.crawl.links import HtmlFacts, read_html, robots_directives
from rag_chatbot.crawl.model import CrawlOptions, CrawlSummary, KnownPage, Page, bare_page
from rag_chatbot.crawl.robots import RobotsRules
from rag_chatbot.crawl.safety import AddressPolicy
from rag_chatbot.crawl.urls import Scope, extension_for, host_of

NOINDEX = "the page asks not to be indexed (robots noindex); its links were followed"
UNMATCHED = "not matched by the include/exclude globs; its links were followed"
DISALLOWED = "robots.txt disallows it"
TYPES = "HTML, PDF, DOCX, EPUB, Markdown, reStructuredText or plain text"


@dataclass
class CrawlState:
    """What the pages of one crawl share: the scope, the known pages, what was reported."""

    options: CrawlOptions
    scope: Scope
    robots: RobotsRules
    policy: AddressPolicy
    summary: CrawlSummary
    known: Mapping[str, KnownPage]
    lastmods: dict[str, datetime | None] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)  # body hash -> the first URL with it

    @property
    def seen(self) -> set[str]:
        return self.summary.seen

    def record(self, page: Page) -> None:
        """Count a page reported; its URL and body hash are taken from now on."""
        self.summary.count(page)
        if page.status in ("fetched", "unchanged") and page.content_hash:
            self.hashes.setdefault(page.content_hash, page.url)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Visitor:
    """Turns URLs into pages for one crawl."""

    def __init__(self, state: CrawlState, fetcher: Fetcher) -> None:
        self.state = state
        self._fetcher = fetcher
        self._agent = state.options.agent_token

    async def visit(self, url: str, depth: int, *, start: bool = False) -> Page | None:
        """The page at ``url``, or None when another worker reported it meanwhile."""
        state = self.state
        known = state.known.get(url)
        lastmod = state.lastmods.get(url)
        if not state.robots.allows(url):
            return bare_page(url, "skipped", DISALLOWED, depth)
        if known and known.gone and known.fetched_at and not start:
            # Dead links are most of a documentation site's re-crawl otherwise; one the sitemap
            # lists as modified since is asked again.
            since = _aware(known.fetched_at)
            fresh = datetime.now(UTC) - since < timedelta(seconds=state.options.recheck_gone)
            if fresh and not (lastmod and lastmod > since):
                return bare_page(url, "gone", f"not found on {since:%Y-%m-%d}", depth)
        elif known and known.fetched_at and lastmod and lastmod <= _aware(known.fetched_at):
            return self._unchanged(url, known, None, depth)
        try:
            response = await self._fetcher.get(
                url,
                hop_check=self._start_hop if start else self._hop,
                body_check=self._body_check,
                validators=self._validators,
            )
        except FetchError as exc:
            return self._settle(url, bare_page(url, exc.status, exc.reason, depth))
        if start and not state.scope.contains(response.url):
            state.scope = state.scope.rebased(response.url)
        return self._settle(url, self._page(url, response, depth))

    def _settle(self, requested: str, page: Page) -> Page | None:
        """The page to report, unless its URL was reported while this one was fetched."""
        seen = self.state.seen
        if page.url not in seen:
            return page
        if requested not in seen and requested != page.url:
            return bare_page(requested, "duplicate", f"same page as {page.url}", page.depth)
        return None

    def _validators(self, url: str) -> Mapping[str, str]:
        known = self.state.known.get(url)
        headers: dict[str, str] = {}
        if known is not None:
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
        return headers

    def _hop(self, source: str, target: str) -> FetchError | None:
        state = self.state
        if not state.scope.same_site(target):
            problem = state.policy.host_problem(host_of(target))
            if problem:
                return FetchError("skipped", f"redirects to {target}: {problem}")
            return FetchError("skipped", f"redirects to {target}, another site (not crawled)")
        if target in state.seen:
            return FetchError("duplicate", f"redirects to {target}, crawled already")
        if not state.scope.contains(target):
            return FetchError("skipped", f"redirects to {target}, outside the crawl's scope")
        if not state.robots.allows(target):
            return FetchError("skipped", f"redirects to {target}, which {DISALLOWED}")
        return None

    def _start_hop(self, source: str, target: str) -> FetchError | None:
        """The start URL may move anywhere on its host (http to https, into a subfolder)."""
        if host_of(target) != host_of(source):
            return FetchError(
                "failed",
                f"redirects to {target}, on another host; start the crawl from that URL",
                "redirect",
            )
        if not self.state.robots.allows(target):
            return FetchError("skipped", f"redirects to {target}, which {DISALLOWED}")
        return None

    def _body_check(self, url: str, headers: httpx.Headers) -> FetchError | None:
        content_type = headers.get("content-type", "")
        if extension_for(content_type, url) is None:
            media = content_type.split(";", 1)[0].strip() or "no Content-Type"
            return FetchError("skipped", f"{media} is not a document type indexed ({TYPES})")
        return None

    def _unchanged(self, url: str, known: KnownPage, response: Response | None, depth: int) -> Page:
        headers = response.headers if response is not None else httpx.Headers()
        return Page(
            url=url,
            status="unchanged",
            content=None,
            content_type=_media(headers),
            extension="",
            etag=headers.get("etag") or known.etag,
            last_modified=headers.get("last-modified") or known.last_modified,
            content_hash=known.content_hash,
            links=tuple(link for link in known.links if self.state.scope.contains(link)),
            fetched_at=response.current_at if response is not None else known.fetched_at,
            depth=depth,
        )

    def _page(self, requested: str, response: Response, depth: int) -> Page:
        final = response.url
        if response.status == 304:
            known = self.state.known.get(final)
            if known is None:
                reason = "answered 304 Not Modified to a request without validators"
                return bare_page(requested, "failed", reason, depth)
            return self._unchanged(final, known, response, depth)
        if response.status in (404, 410):
            return bare_page(requested, "gone", response.describe, depth)
        if response.body is None:
            return bare_page(requested, "failed", response.describe, depth)
        return self._body_page(response, response.body, depth)

    def _body_page(self, response: Response, body: bytes, depth: int) -> Page:
        state = self.state
        headers = response.headers
        extension = extension_for(headers.get("content-type", ""), response.url) or ""
        facts = read_html(body, response.url, self._agent) if extension == ".html" else None
        facts = facts or HtmlFacts((), None)
        directives: set[str] = set()
        for value in headers.get_list("x-robots-tag"):
            directives |= robots_directives(value, self._agent)
        url = response.url
        if facts.canonical and facts.canonical != url and state.scope.contains(facts.canonical):
            url = facts.canonical
        nofollow = facts.nofollow or "nofollow" in directives
        links = () if nofollow else tuple(x for x in facts.links if state.scope.contains(x))
        digest = hashlib.sha256(body).hexdigest()
        known = state.known.get(url)
        status, reason = "fetched", ""
        if known is not None and known.content_hash == digest:
            status = "unchanged"
        elif state.hashes.get(digest, url) != url:
            status, reason = "duplicate", f"same content as {state.hashes[digest]}"
        elif facts.noindex or "noindex" in directives:
            status, reason = "skipped", NOINDEX
        elif not state.scope.contains(url):
            status, reason = "skipped", UNMATCHED
        if status not in ("fetched", "unchanged"):
            url = response.url  # the canonical URL belongs to the page that is kept
        return Page(
            url=url,
            status=status,
            content=body if status == "fetched" else None,
            content_type=_media(headers),
            extension=extension,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            content_hash=digest,
            links=links,
            reason=reason,
            fetched_at=response.current_at,
            depth=depth,
        )


def _media(headers: httpx.Headers) -> str:
    value: str = headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()
