"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from amends.config import Settings
from amends.db import Database
from amends.errors import NotAuthenticated, errors
from amends.jobs.service import queue_depth
from amends.kit.secrets import same
from amends.migrate import current_revision
from amends.ops.metrics import JOB_QUEUE, REGISTRY

router = APIRouter(tags=["operations"])


class MetricsTokenRequired(NotAuthenticated):
    code, title = "metrics_token_required", "The metrics need their token"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or not migrated"}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the migrations' head."""
    db: Database = request.app.state.db
    expected: str | None = request.app.state.head_revision
    checks: dict[str, str] = {}
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current = await current_revision(db.engine)
        checks["migrations"] = "ok" if current == expected else f"at {current}, head {expected}"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", response_class=Response, responses=errors(MetricsTokenRequired))
async def metrics(request: Request) -> Response:
    """Prometheus exposition: requests by route, job outcomes, queue depth. When the server
    has `AMENDS_METRICS_TOKEN`, only for `Authorization: Bearer <that token>`."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not same(token.strip(), settings.metrics_token):
            raise MetricsTokenRequired("Send `Authorization: Bearer <AMENDS_METRICS_TOKEN>`.")
    db: Database = request.app.state.db
    try:
        async with db.read_sessions() as session:
            for status, count in (await queue_depth(session)).items():
                JOB_QUEUE.labels(status).set(count)
    except Exception:
        JOB_QUEUE.clear()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
