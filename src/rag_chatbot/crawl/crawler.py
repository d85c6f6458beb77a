"""``Crawler``: a crawl run on a background thread, its pages handed over as they come.

The crawl runs on its own event loop in a thread, so the caller can embed one page while the
next ones are fetched. It runs ahead by at most ``AHEAD_PAGES`` pages or ``AHEAD_BYTES`` of
bodies that the caller has not taken; then it waits. Leaving the loop early (``break``, an
exception) cancels the crawl and waits for the thread, so no request outlives the iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from rag_chatbot.crawl.model import MIB, CrawlOptions, CrawlSummary, KnownPage, Page
from rag_chatbot.crawl.run import CrawlRun
from rag_chatbot.crawl.safety import AddressPolicy
from rag_chatbot.crawl.urls import normalise
from rag_chatbot.errors import IngestionError

AHEAD_PAGES = 16
AHEAD_BYTES = 64 * MIB
NO_PAGES: Mapping[str, KnownPage] = MappingProxyType({})
_DONE = object()


class _Backlog:
    """Pages handed to the caller's queue and not yet taken, bounded in number and bytes."""

    def __init__(self, out: queue.Queue[object]) -> None:
        self._out = out
        self._pages = 0
        self._bytes = 0
        self._taken = asyncio.Event()

    async def put(self, page: Page) -> None:
        size = len(page.content or b"")
        while self._pages and (self._pages >= AHEAD_PAGES or self._bytes + size > AHEAD_BYTES):
            self._taken.clear()
            await self._taken.wait()
        self._pages += 1
        self._bytes += size
        self._out.put(page)

    def taken(self, size: int) -> None:
        """Called on the loop's thread when the caller took a page of ``size`` bytes."""
        self._pages -= 1
        self._bytes -= size
        self._taken.set()


class Crawler:
    """Crawls a website (a root URL) or the pages of a sitemap (a URL ending in .xml/.xml.gz).

    ``known`` maps URLs to what the store has of them (from earlier crawls' pages): they are
    asked for with their validators. ``pages()`` yields each page once (see ``model``) and
    raises ``IngestionError`` when the start URL cannot be crawled at all (unreachable,
    refused address, robots.txt, error status, a redirect to another host). ``summary`` is
    final once ``pages()`` is exhausted. One ``pages()`` per crawler.
    """

    def __init__(
        self,
        start: str,
        options: CrawlOptions | None = None,
        known: Mapping[str, KnownPage] = NO_PAGES,
        *,
        policy: AddressPolicy | None = None,
    ) -> None:
        url = normalise(start)
        if url is None:
            raise IngestionError(f"cannot crawl {start!r}: not an http:// or https:// URL")
        self.start = url
        self.options = options or CrawlOptions()
        self.summary = CrawlSummary()
        self._known = {normalise(key) or key: page for key, page in known.items()}
        self._policy = policy or AddressPolicy(self.options.allowed_hosts)
        self._used = False

    def pages(self) -> Iterator[Page]:
        """The crawl's pages, in the order they are settled."""
        if self._used:
            raise RuntimeError("a Crawler crawls once; make another for the next crawl")
        self._used = True
        out: queue.Queue[object] = queue.Queue()
        backlog = _Backlog(out)
        handle: dict[str, object] = {}
        ready = threading.Event()

        async def main() -> None:
            handle["loop"] = asyncio.get_running_loop()
            handle["task"] = asyncio.current_task()
            ready.set()
            run = CrawlRun(
                self.start, self.options, self._known, self.summary, self._policy, backlog.put
            )
            await run.run()

        def thread_main() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:  # handed to the caller's thread
                out.put(exc)
            finally:
                ready.set()
                out.put(_DONE)

        thread = threading.Thread(target=thread_main, name="crawler", daemon=True)
        thread.start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, Page)
                loop = handle["loop"]
                assert isinstance(loop, asyncio.AbstractEventLoop)
                with contextlib.suppress(RuntimeError):  # a closed loop waits for no room
                    loop.call_soon_threadsafe(backlog.taken, len(item.content or b""))
                yield item
        finally:
            ready.wait()
            if thread.is_alive():
                self._cancel(handle)
            thread.join()

    def _cancel(self, handle: dict[str, object]) -> None:
        loop, task = handle.get("loop"), handle.get("task")
        if isinstance(loop, asyncio.AbstractEventLoop) and isinstance(task, asyncio.Task):
            with contextlib.suppress(RuntimeError):  # a closed loop has nothing to cancel
                loop.call_soon_threadsafe(task.cancel)
