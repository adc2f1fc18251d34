from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs.registry import job
from amends.outcomes import service as outcomes


@job("outcomes.rollup", every=timedelta(hours=1))
async def rollup(session: AsyncSession) -> None:
    """Rebuild the roll-ups of the ledger and of outcomes for every organisation."""
    await outcomes.refresh_all(session)
