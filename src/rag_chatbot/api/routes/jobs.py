"""Ingest jobs (admin): index a folder, a file or a site, re-index everything; follow, cancel.

With ``BROKER_URL`` a job goes to the ``rag-chatbot worker`` processes and this replica only
records it; without it the job runs here in the background, one at a time (``jobs``).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import BaseModel, Field, model_validator

from rag_chatbot.api.schemas import JsonInt, Strict
from rag_chatbot.api.security import AdminDep
from rag_chatbot.dependencies import JobsDep
from rag_chatbot.jobs.planning import site_url

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class JobRequest(Strict):
    kind: Literal["ingest", "reindex"]
    path: str | None = Field(
        None,
        max_length=4096,
        description="ingest: an absolute path of a folder or file on the server, or a site's "
        "http(s) URL to crawl.",
    )
    include: list[str] = Field(default_factory=list, max_length=100)
    exclude: list[str] = Field(default_factory=list, max_length=100)
    max_pages: JsonInt | None = Field(None, ge=1, le=1_000_000)
    max_depth: JsonInt | None = Field(None, ge=0, le=1000)

    @model_validator(mode="after")
    def _target(self) -> JobRequest:
        if self.kind == "ingest":
            if not self.path:
                raise ValueError("an ingest job needs a path (a folder, a file or a URL)")
            if not site_url(self.path) and not os.path.isabs(self.path):
                raise ValueError("path must be absolute (a folder or file on the server) or a URL")
        crawled = self.include or self.exclude or self.max_pages or self.max_depth is not None
        if crawled and not (self.path and site_url(self.path)):
            raise ValueError("include, exclude, max_pages and max_depth apply to URLs only")
        return self

    def crawl(self) -> dict[str, object]:
        chosen: dict[str, object] = {"include": self.include, "exclude": self.exclude}
        if self.max_pages is not None:
            chosen["max_pages"] = self.max_pages
        if self.max_depth is not None:
            chosen["max_depth"] = self.max_depth
        return {k: v for k, v in chosen.items() if v not in ([], None)}


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
    if body.kind == "reindex":
        job = jobs.submit_reindex()
    else:
        assert body.path is not None
        job = jobs.submit_ingest(body.path, body.crawl() if site_url(body.path) else None)
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
