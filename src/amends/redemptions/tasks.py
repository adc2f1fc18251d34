from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs.registry import job
from amends.redemptions.service import expire_holds


@job("reservations.expire", every=timedelta(minutes=1))
async def expire_reservations(session: AsyncSession) -> None:
    """Checkouts that never confirmed give their coupons back."""
    await expire_holds(session)
