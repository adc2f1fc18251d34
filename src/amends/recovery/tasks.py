from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.config import get_settings
from amends.jobs.registry import job
from amends.recovery import service as recovery


@job("recovery.sweep", every=timedelta(seconds=get_settings().sweep_interval_seconds))
async def sweep(session: AsyncSession) -> None:
    """Evaluate the time-based rules of every organisation (indexed queries)."""
    await recovery.sweep(session)


@job("recovery.progress")
async def progress(session: AsyncSession, *, case_id: str, every_days: int) -> None:
    """Keep the customer posted while their case is open."""
    await recovery.send_progress(session, case_id=case_id, every_days=every_days)


@job("followup.feedback_request")
async def feedback_request(session: AsyncSession, *, case_id: str) -> None:
    """After the fix, ask how we did."""
    await recovery.request_feedback(session, case_id=case_id)
