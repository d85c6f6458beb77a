"""The crawl itself, on an event loop: robots.txt, sitemaps, the start page, then the frontier.

Order of work: robots.txt (an unreachable site stops here), the sitemaps (their ``<lastmod>``
dates must be known before any known page is visited), the start page (it must be readable),
then breadth-first workers, ``concurrency`` of them, over links and sitemap entries. Limits stop
the workers from taking new URLs; the crawl is then marked incomplete.
"""

from __future__ import annotations

import logging
import time
from asyncio import CancelledError, Queue, create_task, gather
from collections.abc import Awaitable, Callable, Mapping

from rag_chatbot.crawl.fetch import Fetcher, FetchError, size
from rag_chatbot.crawl.model import CrawlOptions, CrawlSummary, KnownPage, Page, bare_page
from rag_chatbot.crawl.robots import RobotsRules, load_robots
from rag_chatbot.crawl.safety import AddressPolicy
from rag_chatbot.crawl.sitemaps import SitemapReading, read_sitemaps
from rag_chatbot.crawl.urls import Scope, host_of, is_sitemap_url, normalise
from rag_chatbot.crawl.visit import NOINDEX, UNMATCHED, CrawlState, Visitor
from rag_chatbot.errors import IngestionError

log = logging.getLogger(__name__)

MAX_CRAWL_DELAY = 60.0  # seconds; a longer robots.txt Crawl-delay is shortened to this


class CrawlRun:
    """One crawl of ``start``; ``emit`` receives each page (and may wait: backpressure)."""

    def __init__(
        self,
        start: str,
        options: CrawlOptions,
        known: Mapping[str, KnownPage],
        summary: CrawlSummary,
        policy: AddressPolicy,
        emit: Callable[[Page], Awaitable[None]],
    ) -> None:
        self._start = start
        self._options = options
        self._known = known
        self._summary = summary
        self._policy = policy
        self._emit = emit
        self._queue: Queue[tuple[str, int]] = Queue()
        self._queued: set[str] = set()
        self._visits = 0
        self._bytes: Callable[[], int] = lambda: 0

    async def run(self) -> None:
        """Crawl to the end; raises ``IngestionError`` when the site cannot be crawled at all."""
        started = time.perf_counter()
        async with Fetcher(self._options, self._policy) as fetcher:
            self._bytes = lambda: fetcher.bytes
            try:
                await self._crawl(fetcher)
            except CancelledError:
                self._summary.stop("stopped before the end")
                raise
            finally:
                self._summary.requests = fetcher.requests
                self._summary.bytes = fetcher.bytes
                self._summary.seconds = time.perf_counter() - started
        log.info(
            "crawl finished",
            extra={
                "start": self._start,
                "fetched": self._summary.fetched,
                "unchanged": self._summary.unchanged,
                "requests": self._summary.requests,
                "complete": self._summary.complete,
            },
        )

    async def _crawl(self, fetcher: Fetcher) -> None:
        options = self._options
        scope = Scope.around(self._start, options.include, options.exclude)
        try:
            robots = await load_robots(fetcher, scope.origin, options.agent_token)
        except FetchError as exc:
            raise IngestionError(f"cannot crawl {self._start}: {exc.reason}") from None
        if robots.refusal:
            raise IngestionError(f"cannot crawl {self._start}: {robots.refusal}")
        self._slow_down(fetcher, robots)
        state = CrawlState(options, scope, robots, self._policy, self._summary, self._known)
        visitor = Visitor(state, fetcher)
        if is_sitemap_url(self._start):
            seeds = await self._sitemap_start(fetcher, state)
        else:
            reading = await self._read_sitemaps(fetcher, state, _site_sitemaps(robots, scope))
            self._summary.warnings.extend(reading.problems)
            await self._start_page(visitor)
            seeds = list(reading.pages)
        for url in seeds:
            if state.scope.contains(url):  # the start's redirect may have moved the scope
                self._enqueue(url, 0)
        workers = [create_task(self._work(visitor)) for _ in range(options.concurrency)]
        try:
            await self._queue.join()
        finally:
            for worker in workers:
                worker.cancel()
            await gather(*workers, return_exceptions=True)

    def _slow_down(self, fetcher: Fetcher, robots: RobotsRules) -> None:
        """Honour robots.txt's Crawl-delay (up to MAX_CRAWL_DELAY) for the site's host."""
        delay = robots.delay
        limiter = fetcher.limiter(self._start)
        if delay and delay > limiter.interval:
            if delay > MAX_CRAWL_DELAY:
                self._summary.warnings.append(
                    f"robots.txt asks for {delay:g} s between requests; {MAX_CRAWL_DELAY:g} s used"
                )
            limiter.interval = min(delay, MAX_CRAWL_DELAY)

    async def _read_sitemaps(
        self, fetcher: Fetcher, state: CrawlState, roots: list[str]
    ) -> SitemapReading:
        reading = await read_sitemaps(
            fetcher,
            roots,
            wanted_page=lambda url: state.scope.contains(url),
            wanted_sitemap=lambda url: host_of(url) == host_of(self._start),
            max_pages=self._options.max_pages,
        )
        state.lastmods = reading.pages
        return reading

    async def _sitemap_start(self, fetcher: Fetcher, state: CrawlState) -> list[str]:
        """The pages of the sitemap named as the start; every one must be readable."""
        reading = await self._read_sitemaps(fetcher, state, [self._start])
        if reading.read == 0:
            problem = reading.problems[0] if reading.problems else self._start
            raise IngestionError(f"cannot crawl {problem}")
        if not reading.pages:
            where = state.scope.origin + state.scope.prefix
            raise IngestionError(f"the sitemap {self._start} lists no pages under {where}")
        if reading.problems:
            self._summary.stop(reading.problems[0])
        elif reading.truncated:
            self._summary.stop("more sitemap entries than max_pages, or too many sitemaps")
        return list(reading.pages)

    async def _start_page(self, visitor: Visitor) -> None:
        """Visit the start URL first: a site whose start page cannot be read is not crawled."""
        self._queued.add(self._start)
        self._visits += 1
        page = await visitor.visit(self._start, 0, start=True)
        assert page is not None  # nothing else was reported yet
        readable = page.status in ("fetched", "unchanged") or page.reason in (NOINDEX, UNMATCHED)
        if not readable:
            raise IngestionError(f"cannot crawl {self._start}: {page.reason}")
        await self._report(visitor, page)

    async def _report(self, visitor: Visitor, page: Page) -> None:
        visitor.state.record(page)
        for link in page.links:
            self._enqueue(link, page.depth + 1)
        await self._emit(page)

    def _enqueue(self, url: str, depth: int) -> None:
        if url not in self._queued and depth <= self._options.max_depth:
            self._queued.add(url)
            self._queue.put_nowait((url, depth))

    def _limit(self) -> str:
        """Why no more URLs may be visited, or ''."""
        if self._visits >= self._options.max_pages:
            return f"stopped at max_pages ({self._options.max_pages})"
        if self._bytes() >= self._options.max_total_bytes:
            return f"stopped at max_total_bytes ({size(self._options.max_total_bytes)})"
        return ""

    async def _work(self, visitor: Visitor) -> None:
        while True:
            url, depth = await self._queue.get()
            try:
                await self._take(visitor, url, depth)
            finally:
                self._queue.task_done()

    async def _take(self, visitor: Visitor, url: str, depth: int) -> None:
        if url in visitor.state.seen:
            return
        limit = self._limit()
        if limit:
            self._summary.stop(limit)
            return
        self._visits += 1
        try:
            page = await visitor.visit(url, depth)
        except CancelledError:
            raise
        except Exception as exc:  # a bug must cost one page, not the crawl
            log.exception("crawl page failed", extra={"url": url})
            page = bare_page(url, "failed", f"internal error: {type(exc).__name__}: {exc}", depth)
            page = page if url not in visitor.state.seen else None
        if page is not None:
            await self._report(visitor, page)


def _site_sitemaps(robots: RobotsRules, scope: Scope) -> list[str]:
    """The robots.txt Sitemap: lines on the crawled host (others are not read)."""
    found = (normalise(line) for line in robots.sitemaps)
    return [url for url in dict.fromkeys(found) if url and host_of(url) == host_of(scope.origin)]
