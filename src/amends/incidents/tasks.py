from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from amends.incidents import service as incidents
from amends.jobs.registry import job


# Issuing comes before sending: a chunk (retried or not) never waits behind the messages.
@job("incidents.run_chunk", max_attempts=10, priority=1)
async def run_chunk(session: AsyncSession, *, organization_id: str, incident_id: str,
                    chunk: int) -> None:
    """Make amends to one chunk of an incident's customers."""
    await incidents.run_chunk(session, organization_id=organization_id,
                              incident_id=incident_id, chunk=chunk)


@job("incidents.finish", max_attempts=100)
async def finish(session: AsyncSession, *, organization_id: str, incident_id: str) -> None:
    """Mark the incident completed once every customer has been reached."""
    await incidents.finish(session, organization_id=organization_id, incident_id=incident_id)
