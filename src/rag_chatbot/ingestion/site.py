"""Ingest a website: crawl it and index each page as a document whose source is its URL.

The guarantees are those of a directory's ingest (``pipeline``): a page's document appears
whole or not at all, an unchanged page is not embedded again, a changed one is replaced, and a
page that is gone (404/410, or no longer linked or listed) is pruned. What a re-crawl needs of
each page (validators, content hash, links) is recorded after its document is committed, so a
run killed in between fetches that page again and finds its content unchanged.

Pruning by absence happens only after a complete crawl: a crawl cut short by a limit or an
error has not seen every page, and must not take the unseen ones for gone.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from rag_chatbot.crawl import Crawler, CrawlOptions, KnownPage, Page
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.db.sites import PageState, Site, SiteRepository
from rag_chatbot.errors import InvalidInput, RagChatbotError, UnsupportedFormat
from rag_chatbot.ingestion.pipeline import IngestionPipeline, IngestReport

log = logging.getLogger(__name__)

# Page outcomes that keep the page's document (a failed fetch is not a removal).
_KEPT = frozenset({"fetched", "unchanged", "failed"})
# Options a site remembers for its scheduled re-crawls (the rest are the server's settings).
SITE_OPTIONS = ("include", "exclude", "max_pages", "max_depth")
# Progress reports to the database: at most one every this many seconds.
_PROGRESS_EVERY = 2.0


def site_options(options: CrawlOptions) -> dict[str, object]:
    """What ``sites.options`` stores of ``options``: the choices of the user, as JSON."""
    values = dataclasses.asdict(options)
    return {
        key: list(values[key]) if isinstance(values[key], tuple) else values[key]
        for key in SITE_OPTIONS
    }


def options_for(site: Site, defaults: CrawlOptions) -> CrawlOptions:
    """``defaults`` (the server's settings) with the site's remembered choices."""
    chosen: dict[str, object] = {}
    for key in SITE_OPTIONS:
        if key in site.options:
            value = site.options[key]
            chosen[key] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(defaults, **chosen)  # type: ignore[arg-type]


def loader_name(page: Page) -> str:
    """A file name for the loader: the URL's last segment with the content's extension."""
    last = urlsplit(page.url).path.rstrip("/").rsplit("/", 1)[-1] or "index"
    return last if last.lower().endswith(page.extension) else f"{last}{page.extension}"


class CrawlRunning(InvalidInput):
    """Another process (or thread) is crawling the site now: try again when it ends."""


class SiteIngest:
    """Crawls sites into the index through the ingestion pipeline.

    A run is claimed first (``start``), so of two processes asked to crawl one site at once,
    one crawls and the other is told ``CrawlRunning``.
    """

    def __init__(
        self,
        pipeline: IngestionPipeline,
        sites: SiteRepository,
        documents: DocumentRepository,
        defaults: CrawlOptions,
    ) -> None:
        self._pipeline = pipeline
        self._sites = sites
        self._documents = documents
        self.defaults = defaults

    def add(self, url: str, options: CrawlOptions, every_seconds: int | None = None) -> Site:
        """Register (or update) the site crawled from ``url``; nothing is fetched yet."""
        return self._sites.ensure(url, site_options(options), every_seconds)

    def get(self, site_id: str) -> Site:
        """The site and its last run; ``NotFound`` for an unknown id."""
        return self._sites.get(site_id)

    def list_sites(self) -> list[Site]:
        return self._sites.list_sites()

    def due(self) -> list[Site]:
        """Sites whose schedule says to crawl them again now."""
        return self._sites.due()

    def submit(self, url: str, options: CrawlOptions, every_seconds: int | None = None) -> Site:
        """Register (or update) the site and claim a run of it for this process (``start``).

        A site being crawled is left as it is (``CrawlRunning``), its options unchanged.
        """
        existing = self._sites.find(url)
        if existing is not None and self._sites.running(existing.id):
            raise CrawlRunning(f"{url} is being crawled already; try again when it ends")
        return self.start(self.add(url, options, every_seconds).id)

    def start(self, site_id: str) -> Site:
        """Claim the site for a run by this process; then ``run(site_id, claimed=True)``."""
        site = self._sites.get(site_id)
        if not self._sites.claim(site_id):
            raise CrawlRunning(f"{site.url} is being crawled already; try again when it ends")
        return self._sites.get(site_id)

    def run(
        self,
        site_id: str,
        on_page: Callable[[Page, str], None] | None = None,
        *,
        claimed: bool = False,
        repair: bool = True,
    ) -> IngestReport:
        """Crawl the site now; ``on_page(page, outcome)`` after each page (a progress display).

        ``claimed``: ``start`` claimed it already. Raises ``CrawlRunning`` when another process
        is crawling it, ``IngestionError`` when its start URL cannot be fetched at all (the run
        is recorded as failed either way); an exception from ``on_page`` ends the run (failed).
        ``repair``: first reconcile the index (``pipeline.reconcile``), which deletes the points
        no committed row owns, so only where no other write can be in flight (the command
        line). A server's crawls run beside uploads and other crawls, and leave it to the next
        ingest: what a run cut short leaves is unowned points, never visible.
        """
        site = self._sites.get(site_id) if claimed else self.start(site_id)
        try:
            report = self._crawl(site, options_for(site, self.defaults), on_page, repair)
        except BaseException as exc:
            self._sites.finish(site_id, {}, error=str(exc) or type(exc).__name__)
            raise
        self._sites.finish(site_id, report.as_dict())
        return report

    def delete(self, site_id: str) -> int:
        """Remove the site, its pages' states and its documents (with their vectors).

        The site is claimed first, so no crawl of it runs meanwhile (``CrawlRunning`` if one
        does). Returns the number of documents removed.
        """
        site = self.start(site_id)
        try:
            removed = sum(
                int(self._pipeline.remove(source))
                for source in sorted(self._documents.sources_from(site.url))
            )
        except BaseException as exc:
            self._sites.finish(site_id, {}, error=f"delete failed: {exc}")
            raise
        self._sites.delete(site_id)
        self._pipeline.publish_index_size()
        return removed

    def reschedule_now(self, site_id: str) -> None:
        """Make a scheduled site due at once (its run was cut short by a shutdown)."""
        self._sites.reschedule(site_id, datetime.now(UTC))

    def _crawl(
        self,
        site: Site,
        options: CrawlOptions,
        on_page: Callable[[Page, str], None] | None,
        repair: bool,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        if repair:
            self._pipeline.reconcile()
        # A page whose document is gone (deleted through the API) must be fetched again.
        indexed = self._documents.sources_from(site.url)
        states = self._sites.pages(site.id)
        known = {u: _known(s) for u, s in states.items() if u in indexed or s.gone}
        crawler = Crawler(site.url, options, known)
        kept: set[str] = set()
        reported = time.monotonic()
        for done, page in enumerate(crawler.pages(), start=1):
            outcome = self._page(site, page, report, states.get(page.url))
            if page.status in _KEPT or (page.status == "gone" and page.url in states):
                kept.add(page.url)  # (a dead link's record is kept while it is linked)
            if on_page:
                on_page(page, outcome)
            if time.monotonic() - reported >= _PROGRESS_EVERY:
                self._sites.progress(site.id, done)
                reported = time.monotonic()
        if crawler.summary.complete:
            gone = sorted(self._documents.sources_from(site.url) - kept)
            for source in gone:
                report.removed += int(self._pipeline.remove(source))
            self._sites.drop_pages(set(states) - kept)  # dead links no longer linked too
        self._pipeline.settle()
        report.seconds = time.perf_counter() - started
        return report

    def _page(self, site: Site, page: Page, report: IngestReport, known: PageState | None) -> str:
        """Index, keep or remove one page's document; return the outcome counted."""
        if page.status == "unchanged":
            validators = (page.etag, page.last_modified)
            if known and page.fetched_at and validators != (known.etag, known.last_modified):
                # New validators for the same body: keep them, or every re-crawl downloads it.
                self._sites.save_page(site.id, _state(page, known.links))
            report.unchanged += 1
            return "unchanged"
        if page.status == "fetched" and page.content is not None:
            return self._fetched(site, page, report)
        if page.status == "failed":
            report.failed.append({"source": page.url, "reason": page.reason})
            return "failed"
        # gone, skipped (robots, type) or duplicate: no document for this URL any more.
        removed = self._pipeline.remove(page.url)
        if page.status == "gone":
            if known is None or not known.gone:  # remembered, so the next crawls need not ask
                when = page.fetched_at or datetime.now(UTC)
                self._sites.save_page(site.id, PageState(page.url, None, None, "", (), when))
            report.removed += int(removed)
            return "removed"
        self._sites.drop_pages([page.url])
        report.skipped.append({"source": page.url, "reason": page.reason})
        return "skipped"

    def _fetched(self, site: Site, page: Page, report: IngestReport) -> str:
        assert page.content is not None
        embedding_before = self._pipeline.embedding_seconds
        try:
            outcome, count = self._pipeline.ingest_bytes(
                page.content, page.url, site.url, name=loader_name(page), page_url=page.url
            )
        except UnsupportedFormat as exc:
            report.skipped.append({"source": page.url, "reason": str(exc)})
            return "skipped"
        except RagChatbotError as exc:
            log.warning("page failed", extra={"source": page.url, "reason": str(exc)})
            report.failed.append({"source": page.url, "reason": str(exc)})
            return "failed"
        finally:
            report.embedding_seconds += self._pipeline.embedding_seconds - embedding_before
        self._sites.save_page(site.id, _state(page, page.links))
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.chunks += count
        return outcome


def _state(page: Page, links: tuple[str, ...]) -> PageState:
    # The server's time of the body (its Date header): the sitemap's lastmod is compared to it.
    when = page.fetched_at or datetime.now(UTC)
    return PageState(page.url, page.etag, page.last_modified, page.content_hash, links, when)


def _known(state: PageState) -> KnownPage:
    return KnownPage(
        url=state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        content_hash=state.content_hash,
        links=state.links,
        fetched_at=state.fetched_at,
        gone=state.gone,
    )
