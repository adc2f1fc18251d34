from __future__ import annotations

import httpx
from sqlalchemy import text

from amends.db import Database
from amends.jobs import service as jobs


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


async def test_readiness_fails_when_the_schema_is_behind(client: httpx.AsyncClient,
                                                         db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert "old" in ready.json()["checks"]["migrations"]


async def test_metrics_show_requests_by_route_and_the_queue(client: httpx.AsyncClient,
                                                            db: Database) -> None:
    async with db.transaction() as session:
        for _ in range(3):
            await jobs.enqueue(session, "maintenance.purge")
    await client.get("/healthz")
    body = (await client.get("/metrics")).text
    assert 'amends_jobs{status="queued"} 3.0' in body
    assert 'amends_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "amends_http_request_duration_seconds_bucket" in body
