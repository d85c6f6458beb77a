"""Sources: websites crawled into the index (admin), the API's form of ``rag-chatbot ingest URL``.

Adding a site, or asking for a re-crawl, claims a run of it and answers 202 at once; the crawl
runs in a thread of this process (``ingestion.schedule.Crawls``), and ``GET /api/sources/{id}``
follows its status, pages and report. A site that this or another process is crawling answers
409: one run of a site at a time. Deleting a site removes its pages' documents, passages and
vectors with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Response
from starlette.exceptions import HTTPException

from rag_chatbot.api.schemas import SourceOut, SourceRequest
from rag_chatbot.api.security import AdminDep
from rag_chatbot.db.sites import Site
from rag_chatbot.dependencies import CrawlsDep, SitesDep
from rag_chatbot.ingestion.crawl_choices import crawl_options, crawlable, parse_every
from rag_chatbot.ingestion.site import CrawlRunning

router = APIRouter(prefix="/api/sources", tags=["sources"])
T = TypeVar("T")

_RUNNING: dict[int | str, dict[str, Any]] = {
    409: {"description": "The site is being crawled now; try again when that run ends."}
}


def source_out(site: Site) -> SourceOut:
    """The API's form of a site: its last run's counts are its ``report``."""
    fields = dataclasses.asdict(site)
    fields["report"] = fields.pop("counts")
    return SourceOut.model_validate(fields)


def _unless_running(act: Callable[[], T]) -> T:
    """``act()``, or 409 when the site is being crawled."""
    try:
        return act()
    except CrawlRunning as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("", response_model=SourceOut, status_code=202, responses=_RUNNING)
def add_source(body: SourceRequest, sites: SitesDep, crawls: CrawlsDep, _: AdminDep) -> SourceOut:
    """Add a website (or change a known one's options) and crawl it now, in the background."""
    url = crawlable(body.url)
    options = crawl_options(sites.defaults, body.include, body.exclude, body.max_pages, body.depth)
    every = parse_every(body.every, "every") if body.every is not None else None
    site = _unless_running(lambda: sites.submit(url, options, every))
    crawls.launch(site)
    return source_out(site)


@router.get("", response_model=list[SourceOut])
def list_sources(sites: SitesDep, _: AdminDep) -> list[SourceOut]:
    """Every website added, oldest first, each with its last run."""
    return [source_out(site) for site in sites.list_sites()]


@router.get("/{source_id}", response_model=SourceOut)
def get_source(source_id: str, sites: SitesDep, _: AdminDep) -> SourceOut:
    return source_out(sites.get(source_id))


@router.post("/{source_id}/crawl", response_model=SourceOut, status_code=202, responses=_RUNNING)
def crawl_source(source_id: str, sites: SitesDep, crawls: CrawlsDep, _: AdminDep) -> SourceOut:
    """Crawl the website again now: only what changed is fetched and re-indexed."""
    site = _unless_running(lambda: sites.start(source_id))
    crawls.launch(site)
    return source_out(site)


@router.delete("/{source_id}", status_code=204, responses=_RUNNING)
def delete_source(source_id: str, sites: SitesDep, _: AdminDep) -> Response:
    """Forget the website: its pages' documents, passages and vectors go with it."""
    _unless_running(lambda: sites.delete(source_id))
    return Response(status_code=204)
