"""GET /api/health, /api/health/detailed and /api/metrics; /health for in-cluster probes."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from rag_chatbot import __version__
from rag_chatbot.api import health
from rag_chatbot.api.schemas import DetailedHealthOut, HealthOut
from rag_chatbot.dependencies import EngineDep, HealthProbesDep, SettingsDep
from rag_chatbot.observability.metrics import render_latest
from rag_chatbot.observability.pool import refresh as refresh_pool
from rag_chatbot.observability.resources import ResourceCollector

router = APIRouter(tags=["health"])


# /health: what operators and load balancers try first on a backend's own port
# (`curl http://backend:8000/health`); the same answer as /api/health, kept out of the spec.
@router.get("/health", response_model=HealthOut, include_in_schema=False)
@router.get("/api/health", response_model=HealthOut)
def liveness(settings: SettingsDep) -> dict[str, object]:
    """Cheap liveness: the process answers (use /api/health/detailed for readiness)."""
    return {
        "status": "healthy",
        "environment": settings.environment,
        "version": __version__,
        "timestamp": datetime.now(UTC),
    }


@router.get(
    "/api/health/detailed",
    response_model=DetailedHealthOut,
    responses={503: {"model": DetailedHealthOut}},
)
def detailed(request: Request, probes: HealthProbesDep) -> JSONResponse:
    """Every backend probed; 503 when questions cannot be answered."""
    report = health.check(probes, request.app.state.probe_pool)
    report["timestamp"] = datetime.now(UTC).isoformat()
    return JSONResponse(report, status_code=503 if report["status"] == "unhealthy" else 200)


@router.get(
    "/api/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(engine: EngineDep, settings: SettingsDep) -> Response:
    """Prometheus text exposition (all workers' metrics in multiprocess mode)."""
    refresh_pool(engine)
    body, content_type = render_latest([ResourceCollector(settings.data_dir)])
    return Response(body, media_type=content_type)
