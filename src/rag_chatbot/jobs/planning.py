"""How a job becomes tasks: a folder's files, a site's crawl, a re-index's documents.

A folder is listed by ``ingestion.planning.Planner``, as ``rag-chatbot ingest`` lists it, so a
file gets the same source either way; its missing files are pruned when the job finishes
(``report["directories"]``). A URL is crawled by one task. A re-index reads every document
again from where it came from: its folder, or the uploads folder; a web page is re-crawled
with its site, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rag_chatbot.db.models import JobRow
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.ingestion.planning import Planner, file_of
from rag_chatbot.jobs.store import TaskSpec

_URL = re.compile(r"^https?://", re.IGNORECASE)


def site_url(target: str) -> bool:
    return bool(_URL.match(target))


@dataclass
class Planned:
    tasks: list[TaskSpec] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)

    @property
    def report(self) -> dict[str, object]:
        return {
            "skipped": self.skipped,
            "failures": self.failures,
            "renamed": self.renamed,
            "directories": self.directories,
        }


def plan_job(
    job: JobRow, documents: DocumentRepository, uploads_dir: Path, max_bytes: int
) -> Planned:
    """The tasks of ``job`` (kind ``ingest`` or ``reindex``), and what its plan left out."""
    if job.kind == "reindex":
        return _reindex(documents, uploads_dir)
    if site_url(job.target):
        return Planned(tasks=[TaskSpec("crawl", job.target, job.target)])
    plan = Planner(documents, max_bytes).plan([Path(job.target)])
    return Planned(
        tasks=[TaskSpec("document", j.source, str(j.path.resolve()), j.origin) for j in plan.jobs],
        skipped=plan.skipped,
        failures=plan.failed,
        renamed=plan.renamed,
        directories=sorted(plan.directories),
    )


def _reindex(documents: DocumentRepository, uploads_dir: Path) -> Planned:
    planned = Planned()
    for row in documents.list_documents():
        if site_url(row.origin):
            reason = f"a page of {row.origin}: re-crawl the site to index it again"
            planned.skipped.append({"source": row.source, "reason": reason})
            continue
        path = file_of(row.origin, row.source) if row.origin else uploads_dir / row.source
        planned.tasks.append(TaskSpec("reindex", row.source, str(path), row.origin))
    return planned
