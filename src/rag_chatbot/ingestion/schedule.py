"""Crawls that run beside the server: those the API starts, and the scheduled re-crawls.

``Crawls`` belongs to one server process. ``launch(site)`` crawls a site this process has
claimed (``SiteIngest.start``) in a thread of its own, so ``POST /api/sources`` answers at once
and a crawl of minutes holds neither the event loop nor a thread of the request pool. With
``schedule(tick)`` a daemon thread looks every ``tick`` seconds for the sites whose ``every``
has come round (``SiteIngest.due``) and crawls them one after another. Every worker of
``serve --workers N``, and every replica, runs one: claiming a run is a compare-and-set in the
database (``db.sites``), so exactly one process crawls a due site and the others move on.

``stop()`` (the server's shutdown) ends each crawl after the page in work: the run is recorded
as failed, and a scheduled site is made due again so that the next start crawls it.
"""

from __future__ import annotations

import logging
import threading
import time

from rag_chatbot.crawl import Page
from rag_chatbot.db.sites import Site
from rag_chatbot.errors import NotFound
from rag_chatbot.ingestion.site import CrawlRunning, SiteIngest

log = logging.getLogger(__name__)

SCHEDULER_TICK = 60.0
"""Seconds between the scheduler's looks for due sites (``CRAWL_SCHEDULER_TICK``)."""
STOP_WAIT = 10.0
"""Seconds a shutdown waits for the crawls to end after their page in work."""


class CrawlStopped(Exception):
    """Raised between two pages to end a crawl when the server shuts down."""


class Crawls:
    """The crawls of one server process: started by the API or by the schedule."""

    def __init__(self, sites: SiteIngest) -> None:
        self._sites = sites
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def launch(self, site: Site) -> threading.Thread:
        """Crawl ``site``, already claimed by this process, in a thread of its own."""
        thread = threading.Thread(target=self._launched, args=(site,), name="crawl", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return thread

    def schedule(self, tick: float = SCHEDULER_TICK) -> threading.Thread:
        """Start the scheduler: a look for due sites now, then every ``tick`` seconds."""
        thread = threading.Thread(
            target=self._scheduler, args=(tick,), name="crawl-scheduler", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return thread

    def stop(self, wait: float = STOP_WAIT) -> None:
        """End the scheduler and the crawls (after their page in work), waiting up to ``wait``."""
        self._stop.set()
        deadline = time.monotonic() + wait
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run_due(self) -> int:
        """Crawl, one after another, the due sites this process wins; how many it crawled."""
        crawled = 0
        for due in self._sites.due():
            if self._stop.is_set():
                break
            try:
                site = self._sites.start(due.id)
            except (CrawlRunning, NotFound):  # another process won it, or it was deleted
                continue
            self._crawl(site)
            crawled += 1
        return crawled

    def _scheduler(self, tick: float) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.run_due()
                except Exception as exc:  # the database away for a while: look again later
                    log.warning("crawl_scheduler_failed", extra={"reason": str(exc)})
                if self._stop.wait(tick):
                    break
        finally:
            self._forget()

    def _launched(self, site: Site) -> None:
        try:
            self._crawl(site)
        finally:
            self._forget()

    def _forget(self) -> None:
        with self._lock:
            self._threads.discard(threading.current_thread())

    def _check(self, page: Page, outcome: str) -> None:
        if self._stop.is_set():
            raise CrawlStopped("the server stopped during the crawl")

    def _crawl(self, site: Site) -> None:
        """Run the claimed ``site``'s crawl and log one line of its outcome; never raises."""
        try:
            # No repair: beside uploads and other crawls, it would delete their points before
            # their rows are committed (``SiteIngest.run``).
            report = self._sites.run(site.id, on_page=self._check, claimed=True, repair=False)
        except CrawlStopped as exc:
            log.warning("site_crawl_stopped", extra={"url": site.url, "reason": str(exc)})
            try:
                self._sites.reschedule_now(site.id)
            except Exception as error:  # the database went first: the schedule stands
                log.warning("site_not_rescheduled", extra={"url": site.url, "reason": str(error)})
        except Exception as exc:
            log.warning("site_crawl_failed", extra={"url": site.url, "reason": str(exc)})
        else:
            counts = report.as_dict()
            fields = {key: counts[key] for key in _LOGGED}
            log.info("site_crawled", extra={"url": site.url, **fields})


# The counts of a run that its log line shows (``IngestReport.as_dict``).
_LOGGED = ("added", "updated", "unchanged", "removed", "failed", "skipped", "chunks", "seconds")
