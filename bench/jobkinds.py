"""A job that does nothing, to measure the queue itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs.registry import job


@job("bench.noop")
async def noop(session: AsyncSession) -> None:
    return None
