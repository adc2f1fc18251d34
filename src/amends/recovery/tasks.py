from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.config import get_settings
from amends.jobs.registry import job
from amends.recovery import service as recovery


@job("recovery.sweep", every=timedelta(seconds=get_settings().sweep_interval_seconds))
async def sweep(session: AsyncSession, *, organization_id: str | None = None) -> None:
    """Evaluate the time-based rules of every organisation (indexed queries), or of one
    (a retry of the run that failed for it)."""
    await recovery.sweep(session, organization_id=organization_id)


@job("recovery.progress")
async def progress(session: AsyncSession, *, organization_id: str, case_id: str,
                   every_days: int) -> None:
    """Keep the customer posted while their case is open."""
    await recovery.send_progress(session, organization_id=organization_id, case_id=case_id,
                                 every_days=every_days)


@job("followup.feedback_request")
async def feedback_request(session: AsyncSession, *, organization_id: str,
                           case_id: str) -> None:
    """After the fix, ask how we did."""
    await recovery.request_feedback(session, organization_id=organization_id, case_id=case_id)


@job("recovery.thank_you")
async def thank_you(session: AsyncSession, *, organization_id: str, customer_id: str) -> None:
    """A thank-you held back until the automation budget can pay for its surprise gesture."""
    await recovery.retry_thank_you(session, organization_id=organization_id,
                                   customer_id=customer_id)
