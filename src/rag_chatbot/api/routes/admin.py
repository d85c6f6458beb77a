"""Admin endpoints (admin role or ``ADMIN_TOKEN``): the response cache."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from rag_chatbot.answering.chat import QuestionService
from rag_chatbot.api.schemas import JsonInt
from rag_chatbot.api.security import AdminDep
from rag_chatbot.api.storable import StorableBody
from rag_chatbot.cache import ResponseCache
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.dependencies import ChatsDep, QuestionServiceDep, ResponseCacheDep
from rag_chatbot.errors import RagChatbotError, ServiceUnavailable
from rag_chatbot.keyvalue import StoreUnavailable

router = APIRouter(prefix="/api/admin", tags=["admin"])
MAX_WARM_QUESTIONS = 200


class CacheStatsOut(BaseModel):
    enabled: bool
    backend: str = Field(description="redis or memory")
    ttl: int
    hits: int
    misses: int
    hit_rate: float
    keys: int
    memory_bytes: int


class ClearOut(BaseModel):
    cleared: int = Field(description="Cached answers removed.")


class WarmRequest(StorableBody):
    model_config = ConfigDict(strict=True)  # ``limit: true`` is refused, not taken as 1
    questions: list[str] | None = Field(
        None,
        max_length=MAX_WARM_QUESTIONS,
        description="Questions to answer now; omitted: the most frequent recent questions.",
    )
    limit: JsonInt = Field(20, ge=1, le=MAX_WARM_QUESTIONS)


class WarmOut(BaseModel):
    warmed: int = Field(description="Answers computed and cached.")
    already_cached: int
    failed: int
    questions: list[str]


def _require(cache: ResponseCache) -> ResponseCache:
    if not cache.enabled:
        raise ServiceUnavailable("the response cache is off (ENABLE_RESPONSE_CACHE, CACHE_TTL)")
    return cache


@router.get("/cache/stats", response_model=CacheStatsOut)
def cache_stats(cache: ResponseCacheDep, _: AdminDep) -> dict[str, object]:
    """Hits, misses, hit rate, keys and memory of the response cache."""
    try:
        return cache.stats()
    except StoreUnavailable as exc:
        raise ServiceUnavailable("the cache store is unreachable") from exc


@router.post("/cache/clear", response_model=ClearOut)
def cache_clear(cache: ResponseCacheDep, _: AdminDep) -> ClearOut:
    """Remove every cached answer."""
    try:
        return ClearOut(cleared=cache.clear())
    except StoreUnavailable as exc:
        raise ServiceUnavailable("the cache store is unreachable") from exc


@router.post("/cache/warm", response_model=WarmOut)
async def cache_warm(
    cache: ResponseCacheDep,
    questions: QuestionServiceDep,
    chats: ChatsDep,
    _: AdminDep,
    body: WarmRequest | None = None,
) -> WarmOut:
    """Answer the given questions (or the most frequent asked ones) so they are cached.

    The body is optional: a bare ``curl -X POST`` warms the 20 most frequent questions.
    """
    _require(cache)
    body = body or WarmRequest(questions=None, limit=20)
    return await run_in_threadpool(warm, questions, chats, body.questions, body.limit)


def warm(
    service: QuestionService,
    chats: ChatRepository,
    questions: list[str] | None,
    limit: int = 20,
) -> WarmOut:
    """Compute and cache answers to ``questions`` (default: the most frequent asked ones)."""
    chosen = questions if questions is not None else [q for q, _ in chats.frequent_questions(limit)]
    warmed = already = failed = 0
    for question in chosen:
        try:
            if service.warm(question):
                warmed += 1
            else:
                already += 1
        except RagChatbotError:  # one bad question must not stop the rest
            failed += 1
    return WarmOut(warmed=warmed, already_cached=already, failed=failed, questions=chosen)
