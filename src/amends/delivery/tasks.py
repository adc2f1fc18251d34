from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from amends.config import get_settings
from amends.delivery import channels, sending
from amends.delivery import service as delivery
from amends.jobs.registry import Batch, batch_job, job, on_shutdown
from amends.kit import http


async def _failed(session: AsyncSession, *, error: str, attempts: int, dead: bool,
                  organization_id: str, delivery_id: str) -> None:
    await delivery.record_failure(session, organization_id=organization_id,
                                  delivery_id=delivery_id, error=error, attempts=attempts,
                                  dead=dead)


@batch_job("delivery.send", size=sending.BATCH, max_attempts=6, on_failure=_failed)
async def send(batch: Batch) -> None:
    """Send queued messages on their channels, many at once; each job is one message."""
    await sending.send_batch(batch, base_url=get_settings().base_url)


@job("delivery.remind_expiring", every=timedelta(hours=1))
async def remind(session: AsyncSession, *, organization_id: str | None = None) -> None:
    """Remind customers before an unused gesture expires (of every organisation, or of one:
    a retry of the run that failed for it)."""
    await delivery.remind_expiring(session, base_url=get_settings().base_url,
                                   organization_id=organization_id)


@on_shutdown
async def close_connections() -> None:
    """Say goodbye to the SMTP servers and HTTP peers this worker kept connections open to."""
    email = channels.ADAPTERS["email"]
    assert isinstance(email, channels.Email)
    await email.pool.close()
    await http.close()
