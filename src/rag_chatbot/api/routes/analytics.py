"""Analytics for the documentation's owners (admin): what readers ask, what goes unanswered,
which pages carry the answers. JSON, or CSV with ``?format=csv`` or ``Accept: text/csv``.

Every report covers ``from``..``to`` (whole UTC days, default the last 30) and pages its lists
with ``limit`` and ``offset``. The reports are ``analytics.Analytics``'s (``AnalyticsDep``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, Field

from rag_chatbot.analytics import Period, period
from rag_chatbot.analytics.export import to_csv
from rag_chatbot.api.security import AdminDep
from rag_chatbot.dependencies import AnalyticsDep

router = APIRouter(prefix="/api/admin/analytics", tags=["analytics"])
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD``: pydantic would also read ``0`` as a date (1970-01-01)."""
    if isinstance(value, str) and not _DAY.match(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


From = Annotated[
    dt.date | None,
    BeforeValidator(_iso_day),
    Query(
        alias="from",
        description="First day (UTC), default 29 days before to. After to: an empty period; "
        "more than five years before it: the last five years.",
    ),
]
To = Annotated[
    dt.date | None,
    BeforeValidator(_iso_day),
    Query(description="Last day (UTC), included; default today."),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items of each list, at most.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="csv: the report as CSV (as with Accept: text/csv)."),
]


class Feedback(BaseModel):
    up: int
    down: int


class Latency(BaseModel):
    p50: float | None = Field(description="Milliseconds; null without timed answers.")
    p95: float | None


class Day(BaseModel):
    date: dt.date
    questions: int
    unanswered: int
    unanswered_rate: float
    up: int
    down: int


class SummaryOut(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    questions: int
    askers: int = Field(description="Distinct readers (counted, never named).")
    answered: int
    unanswered: int = Field(description="Declined: the documents did not support an answer.")
    unanswered_rate: float
    feedback: Feedback
    cache_hit_rate: float
    latency_ms: Latency
    per_day: list[Day] = Field(description="Every day of the period, oldest first.")


class NearPageOut(BaseModel):
    source: str
    title: str
    section: str
    url: str = Field(description="The passage in the web reader.")


class GapOut(BaseModel):
    id: int
    label: str = Field(description="The topic's most central question.")
    keywords: list[str] = Field(description="Words that set it apart from the other topics.")
    status: Literal["open", "closed"]
    count: int = Field(description="Questions declined or rated down.")
    unanswered: int
    disliked: int
    asked: int = Field(description="All questions of the topic, answered ones included.")
    askers: int
    first_seen: str | None
    last_seen: str | None
    questions: list[str]
    nearest: list[NearPageOut] = Field(description="Where the documents come closest.")
    confidence: float | None = Field(description="The label's grounding score today.")


class GapsOut(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    gaps: list[GapOut]
    total: int
    limit: int
    offset: int
    pending: int = Field(description="Questions not yet put into topics (grouped next time).")


class AskedOut(BaseModel):
    text: str
    count: int


class CitedOut(BaseModel):
    source: str
    title: str
    url: str
    count: int


class TopicOut(BaseModel):
    id: int
    label: str
    keywords: list[str]
    count: int
    askers: int
    answered: int
    answered_share: float
    unanswered: int
    disliked: int
    last_seen: str | None
    questions: list[AskedOut]
    pages: list[CitedOut]


class QuestionsOut(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    topics: list[TopicOut]
    total: int
    limit: int
    offset: int
    pending: int


class PageOut(BaseModel):
    source: str
    title: str
    url: str
    indexed: bool = Field(description="False for a document cited then, gone now.")
    cited: int = Field(description="Answers citing it.")
    up: int
    down: int


class UnusedOut(BaseModel):
    source: str
    title: str
    url: str


class PagesOut(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    pages: list[PageOut]
    total: int
    never_cited: list[UnusedOut]
    never_cited_total: int
    limit: int
    offset: int


def _reply(kind: str, report: dict[str, Any], request: Request, fmt: str | None) -> Any:
    """The report as JSON, or as a CSV download when asked for."""
    accept = request.headers.get("accept", "")
    if fmt == "csv" or (fmt is None and "text/csv" in accept):
        name = f"{kind}-{report['from']}-{report['to']}.csv"
        return Response(
            to_csv(kind, report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report


@dataclass(frozen=True)
class Listing:
    """What every report is asked for: its period, a page of its lists, JSON or CSV."""

    period: Period
    limit: int
    offset: int
    format: str | None


def _listing(
    from_: From = None, to: To = None, limit: Limit = 20, offset: Offset = 0, format: Format = None
) -> Listing:
    return Listing(period(from_, to), limit, offset, format)


ListingDep = Annotated[Listing, Depends(_listing)]


def _summary_listing(from_: From = None, to: To = None, format: Format = None) -> Listing:
    return Listing(period(from_, to), 0, 0, format)


@router.get("/summary", response_model=SummaryOut, responses=_CSV)
def summary(
    _: AdminDep,
    request: Request,
    analytics: AnalyticsDep,
    asked: Annotated[Listing, Depends(_summary_listing)],
) -> Any:
    """Questions, readers, answered and unanswered, ratings, cache hits, latency; per day."""
    return _reply("summary", analytics.summary(asked.period), request, asked.format)


@router.get("/gaps", response_model=GapsOut, responses=_CSV)
def gaps(_: AdminDep, request: Request, analytics: AnalyticsDep, asked: ListingDep) -> Any:
    """Coverage gaps: declined or disliked questions grouped by meaning, most hit first."""
    report = analytics.gaps(asked.period, limit=asked.limit, offset=asked.offset)
    return _reply("gaps", report, request, asked.format)


@router.get("/questions", response_model=QuestionsOut, responses=_CSV)
def questions(_: AdminDep, request: Request, analytics: AnalyticsDep, asked: ListingDep) -> Any:
    """The most asked topics, with the share answered and the pages their answers cited."""
    report = analytics.questions(asked.period, limit=asked.limit, offset=asked.offset)
    return _reply("questions", report, request, asked.format)


@router.get("/pages", response_model=PagesOut, responses=_CSV)
def pages(_: AdminDep, request: Request, analytics: AnalyticsDep, asked: ListingDep) -> Any:
    """Per document: answers citing it and their ratings; the documents never cited."""
    report = analytics.pages(asked.period, limit=asked.limit, offset=asked.offset)
    return _reply("pages", report, request, asked.format)
