from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.approvals.service import expire_pending
from amends.jobs.registry import job


@job("approvals.expire", every=timedelta(minutes=10))
async def expire_approvals(session: AsyncSession) -> None:
    """Requests nobody decided in time expire (the agent can ask again)."""
    await expire_pending(session)
