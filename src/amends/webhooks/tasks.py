from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs.registry import job
from amends.webhooks import service as webhooks


async def _failed(session: AsyncSession, *, error: str, attempts: int, dead: bool,
                  organization_id: str, delivery_id: str) -> None:
    await webhooks.record_failure(session, organization_id=organization_id,
                                  delivery_id=delivery_id, error=error, attempts=attempts,
                                  dead=dead)


@job("webhooks.deliver", max_attempts=12, on_failure=_failed)
async def deliver(session: AsyncSession, *, organization_id: str, delivery_id: str) -> None:
    """Send one signed event to one endpoint."""
    await webhooks.deliver(session, organization_id=organization_id, delivery_id=delivery_id)
