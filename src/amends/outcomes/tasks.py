from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs.registry import job
from amends.outcomes import service as outcomes


@job("outcomes.rollup", every=timedelta(hours=1))
async def rollup(session: AsyncSession, *, organization_id: str | None = None) -> None:
    """Rebuild the roll-ups of the ledger and of outcomes for every organisation (or for one:
    a retry of the run that failed for it)."""
    await outcomes.refresh_all(session, organization_id=organization_id)
