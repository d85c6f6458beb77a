"""Benchmark the website crawler on local copies of real manuals; prints figures, asserts nothing.

    PYTHONPATH=src python3 benchmarks/crawl.py [--rate 1000] [--concurrency 4]

Two sites, served on 127.0.0.1 by ``tests/site_server.py`` (a sitemap with ``<lastmod>``,
ETag and Last-Modified, robots.txt): the SQLite manual of the docs-faq corpus, and the SQLite
and Git manuals together (about 400 pages). Their links to pages the corpus does not hold
answer 404, as dead links do, and are asked for again by every crawl. For each site:

- first crawl: pages fetched a second, links parsed by the crawler; then the same crawl with
  each page read by its loader on the caller's thread as an ingest does before chunking (no
  embedding), which shows how much fetching overlaps with the caller's work;
- re-crawls of the unchanged site with the first crawl's state: with the sitemap's dates (no
  request for a known page) and without them (one conditional request a page, 304).

``--rate`` is the requests a second per host (the crawler's default is 8, polite to a real
site; the local server wants no such care): at the default a crawl takes at least its
requests / 8 seconds, whatever this machine does.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from machine import yardstick  # noqa: E402
from site_server import Site, serve_site  # noqa: E402

from rag_chatbot.crawl import Crawler, CrawlOptions, KnownPage, Page  # noqa: E402
from rag_chatbot.errors import RagChatbotError  # noqa: E402
from rag_chatbot.ingestion.loaders import load_bytes  # noqa: E402

CORPUS = Path("/work/shared/eval/docs-faq/corpus")


def known_from(pages: list[Page]) -> dict[str, KnownPage]:
    """What a store keeps of a crawl: its indexed pages, the next crawl's known state."""
    return {
        p.url: KnownPage(p.url, p.etag, p.last_modified, p.content_hash, p.links, p.fetched_at)
        for p in pages
        if p.status in ("fetched", "unchanged")
    }


def run(
    site: Site, options: CrawlOptions, known: dict[str, KnownPage], load: bool
) -> tuple[list[Page], float, int, int]:
    """One crawl: its pages, seconds, requests, and the requests the server saw with validators."""
    site.reset()
    crawler = Crawler(site.url + "/", options, known)
    started = time.perf_counter()
    pages = []
    for page in crawler.pages():
        if load and page.content is not None:
            with contextlib.suppress(RagChatbotError):  # counted as read: the time was spent
                load_bytes(page.content, "page" + page.extension)
        pages.append(page)
    seconds = time.perf_counter() - started
    conditional = sum(1 for hit in site.hits if hit.etag or hit.since)
    return pages, seconds, crawler.summary.requests, conditional


def report(label: str, pages: list[Page], seconds: float, requests: int, conditional: int) -> None:
    statuses = Counter(page.status for page in pages)
    fetched = statuses["fetched"]
    megabytes = sum(len(page.content or b"") for page in pages) / 1e6
    counts = ", ".join(f"{status} {count}" for status, count in sorted(statuses.items()))
    print(
        f"  {label:<34} {seconds:6.2f} s  {fetched / seconds:6.1f} pages/s fetched  "
        f"{requests / seconds:6.0f} requests/s  {megabytes:5.1f} MB  "
        f"({requests} requests, {conditional} conditional; {counts})"
    )


def bench(name: str, folder: Path, options: CrawlOptions) -> None:
    pages_on_disk = sum(1 for path in folder.rglob("*") if path.is_file())
    print(f"{name}: {pages_on_disk} pages")
    with serve_site(folder) as site:
        first = run(site, options, {}, load=False)
        report("first crawl", *first)
        report("first crawl, pages loaded", *run(site, options, {}, load=True))
        known = known_from(first[0])
        report("re-crawl, sitemap dates", *run(site, options, known, load=False))
        site.lastmod = False
        report("re-crawl, conditional requests", *run(site, options, known, load=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="requests a second per host")
    parser.add_argument("--concurrency", type=int, default=4, help="requests at once per host")
    args = parser.parse_args()
    print(yardstick())
    options = CrawlOptions(
        allowed_hosts=("127.0.0.1",), rate=args.rate, concurrency=args.concurrency
    )
    print(f"rate {args.rate:g} requests/s, concurrency {args.concurrency}")
    bench("SQLite manual", CORPUS / "sqlite", options)
    with tempfile.TemporaryDirectory() as scratch:
        both = Path(scratch)
        for manual in ("sqlite", "git"):
            shutil.copytree(CORPUS / manual, both / manual)
        bench("SQLite and Git manuals", both, options)


if __name__ == "__main__":
    main()
