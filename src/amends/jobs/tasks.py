"""Housekeeping that every deployment needs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from amends.idempotency import purge_expired
from amends.jobs.registry import job
from amends.kit.clock import utcnow
from amends.models import Job, UserSession

SUCCEEDED_JOBS_KEPT = timedelta(days=7)


@job("maintenance.purge", every=timedelta(hours=1))
async def purge(session: AsyncSession) -> None:
    """Forget expired idempotency keys and console sessions, and old finished jobs."""
    now = utcnow()
    await purge_expired(session)
    await session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    await session.execute(
        delete(Job).where(Job.status == "succeeded", Job.finished_at < now - SUCCEEDED_JOBS_KEPT)
    )
