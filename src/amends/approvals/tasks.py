from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.approvals.service import expire_pending, notify_overdue
from amends.jobs.registry import job


@job("approvals.expire", every=timedelta(minutes=10))
async def expire_approvals(session: AsyncSession) -> None:
    """Requests nobody decided in time expire (the agent can ask again)."""
    await expire_pending(session)


@job("approvals.overdue", every=timedelta(minutes=1))
async def overdue_approvals(session: AsyncSession, *, organization_id: str | None = None
                            ) -> None:
    """Requests waiting longer than their organisation's SLA: the tier above is told (of one
    organisation: a retry of the run that failed for it)."""
    await notify_overdue(session, organization_id=organization_id)
