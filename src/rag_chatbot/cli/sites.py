"""``rag-chatbot ingest URL``: crawl a website into the index, once or on a schedule.

The crawl itself is ``ingestion.site``; this module turns the command line into crawl options,
draws the progress (pages fetched, unchanged and failed, the page in work, the rate), and with
``--every`` runs again when the schedule says, until Ctrl-C.
"""

from __future__ import annotations

import re
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from rag_chatbot.crawl import CrawlOptions, Page
from rag_chatbot.ingestion.crawl_choices import crawl_options as crawl_options
from rag_chatbot.ingestion.crawl_choices import parse_every as parse_every
from rag_chatbot.ingestion.site import SiteIngest

URL = re.compile(r"^https?://", re.IGNORECASE)
NAME_CHARS = 60


def is_url(argument: str) -> bool:
    return bool(URL.match(argument))


class CrawlProgress:
    """A live line: pages by outcome, the rate, the page in work, time elapsed."""

    def __init__(self, console: Console, url: str, max_pages: int) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[page]}"),
            console=console,
            transient=False,
        )
        self._max_pages = max_pages
        self._counts: dict[str, int] = {}
        self._started = time.monotonic()
        self._task = self._progress.add_task(f"crawling {url}", counts="", page="")

    def __enter__(self) -> CrawlProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def page(self, page: Page, outcome: str) -> None:
        self._counts[outcome] = self._counts.get(outcome, 0) + 1
        done = sum(self._counts.values())
        rate = done / max(time.monotonic() - self._started, 1e-6)
        parts = ", ".join(f"{n} {name}" for name, n in sorted(self._counts.items()))
        name = page.url if len(page.url) <= NAME_CHARS else "…" + page.url[-NAME_CHARS + 1 :]
        self._progress.update(
            self._task,
            counts=f"{done}/{self._max_pages} pages at most ({parts}) {rate:.1f}/s",
            page=name,
        )


def merged(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``ingest --json`` report of several runs: counts added, lists joined."""
    total: dict[str, Any] = {}
    for report in reports:
        for key, value in report.items():
            if isinstance(value, list):
                total[key] = [*total.get(key, []), *value]
            elif isinstance(value, int | float):
                total[key] = round(total.get(key, 0) + value, 3)
            else:
                total[key] = value
    return total


def crawl(
    sites: SiteIngest,
    urls: list[str],
    options: CrawlOptions,
    every_seconds: int | None,
    console: Console | None,
) -> dict[str, Any]:
    """Crawl each of ``urls`` once; the merged report. ``console``: where progress is drawn."""
    reports = []
    for url in urls:
        site = sites.add(url, options, every_seconds)
        if console is None:
            reports.append(sites.run(site.id).as_dict())
            continue
        with CrawlProgress(console, url, options.max_pages) as progress:
            reports.append(sites.run(site.id, on_page=progress.page).as_dict())
    return merged(reports)
