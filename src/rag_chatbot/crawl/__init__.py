"""The website crawler: a site or a sitemap in, its pages out, ready for ``load_bytes``.

    Crawler(start, CrawlOptions(...), known={url: KnownPage}).pages() -> Iterator[Page]

- ``model``: the options, the known state of a page, the pages reported, the summary.
- ``urls``: normalisation, scope (host, path prefix, include/exclude globs), content types.
- ``safety``: the addresses never fetched unless allowed; ``transport``: connections go to
  the address checked.
- ``fetch``: polite, retried GETs with redirects checked hop by hop and capped bodies.
- ``robots``, ``sitemaps``, ``links``: what robots.txt, sitemaps and HTML pages say.
- ``visit``: one URL to one page; ``run``: the crawl on an event loop; ``crawler``: the
  thread that runs it ahead of the caller.

A library of the ingestion layer: it knows nothing of the stores; ``ingestion.site`` feeds its
pages to the pipeline.
"""

from rag_chatbot.crawl.crawler import Crawler
from rag_chatbot.crawl.model import STATUSES, CrawlOptions, CrawlSummary, KnownPage, Page

__all__ = ["STATUSES", "CrawlOptions", "CrawlSummary", "Crawler", "KnownPage", "Page"]
