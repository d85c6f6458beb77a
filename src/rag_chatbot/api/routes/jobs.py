"""Ingest jobs (admin): index a folder, a file or a site, re-index everything; follow, cancel.

With ``BROKER_URL`` a job goes to the ``rag-chatbot worker`` processes and this replica only
records it; without it the job runs here in the background, one at a time (``jobs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import BaseModel, Field

from rag_chatbot.api.schemas import Glob, LinkDepth, PageCount, SourceUrl, Strict
from rag_chatbot.api.security import AdminDep
from rag_chatbot.dependencies import JobsDep

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class ReindexJob(Strict):
    """Every document read and embedded again."""

    kind: Literal["reindex"]


class IngestJob(Strict):
    """A folder or a file on the server (the workers' server)."""

    kind: Literal["ingest"]
    path: str = Field(
        min_length=1,
        max_length=4096,
        pattern=r"^/",
        description="An absolute path of a folder or file on the server.",
    )

    def crawl(self) -> None:
        return None


class CrawlJob(Strict):
    """A website, crawled as ``rag-chatbot ingest URL`` crawls it."""

    kind: Literal["ingest"]
    path: SourceUrl = Field(description="The site's root page, or its sitemap.")
    include: list[Glob] = Field(default_factory=list, max_length=100)
    exclude: list[Glob] = Field(default_factory=list, max_length=100)
    max_pages: PageCount | None = None
    max_depth: LinkDepth | None = None

    def crawl(self) -> dict[str, object]:
        chosen: dict[str, object] = {"include": self.include, "exclude": self.exclude}
        if self.max_pages is not None:
            chosen["max_pages"] = self.max_pages
        if self.max_depth is not None:
            chosen["max_depth"] = self.max_depth
        return {k: v for k, v in chosen.items() if v not in ([], None)}


# One of three shapes, each stated whole in the spec (a rule across fields would refuse bodies
# the spec allows): what a body fits is what it asks for.
JobRequest = ReindexJob | IngestJob | CrawlJob


class FailureOut(BaseModel):
    source: str
    reason: str


class JobOut(BaseModel):
    id: str
    kind: Literal["ingest", "reindex", "upload"]
    target: str = Field(description="The folder, file, URL or upload the job indexes.")
    state: JobState
    documents_total: int
    documents_done: int = Field(description="Documents ended, whatever their outcome.")
    passages: int
    failures: list[FailureOut]
    counts: dict[str, int] = Field(
        description="added, updated, unchanged, removed, skipped and failed documents."
    )
    error: str | None = Field(description="Why the job as a whole failed.")
    eta_seconds: float | None = Field(description="Time left at the rate so far.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@router.post("", response_model=JobOut, status_code=202)
def submit(
    body: JobRequest, jobs: JobsDep, tasks: BackgroundTasks, _: AdminDep
) -> dict[str, object]:
    """Start a job: ``{"kind": "ingest", "path": P}`` or ``{"kind": "reindex"}``."""
    if isinstance(body, ReindexJob):
        job = jobs.submit_reindex()
    else:
        job = jobs.submit_ingest(body.path, body.crawl())
    if jobs.inline:
        tasks.add_task(jobs.run_inline)
    return jobs.view(job.id)


@router.get("", response_model=list[JobOut])
def list_jobs(
    jobs: JobsDep,
    _: AdminDep,
    state: JobState | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[dict[str, object]]:
    """Jobs, newest first (each with its first ten failures)."""
    return jobs.list(state, limit, offset)


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, jobs: JobsDep, _: AdminDep) -> dict[str, object]:
    """A job's state, progress, failures and estimated time left."""
    return jobs.view(job_id)


@router.delete("/{job_id}", response_model=JobOut)
def cancel_job(job_id: str, jobs: JobsDep, _: AdminDep) -> dict[str, object]:
    """Cancel a job: documents not started are dropped, those in work end as they end. A job
    that has ended stays as it ended."""
    return jobs.cancel(job_id)
