from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs import periodic
from amends.jobs.registry import job
from amends.models import RollupChange
from amends.rollups import days

FOLD = "rollups.fold"
# Often, and cheap when nothing changed: a busy organisation's tills change a few earlier days
# a minute (each use changes the day its gesture was given), and reports read every changed
# day from the tables until it is folded.
FOLD_EVERY = timedelta(seconds=10)


@job(FOLD, every=FOLD_EVERY)
async def fold(session: AsyncSession, *, organization_id: str | None = None) -> None:
    """Build again the days of the reports' roll-ups that writes changed, for every
    organisation with changes (or for one: a retry of the run that failed for it). Reports
    read a changed day from the tables until then: this keeps them fast, not right."""
    await fold_all(session, organization_id=organization_id)


async def fold_all(session: AsyncSession, *, organization_id: uuid.UUID | str | None = None
                   ) -> int:
    """Fold each organisation's changes as its own part (`jobs.periodic`); returns how many
    change rows were folded."""
    if organization_id is not None:
        organizations = [uuid.UUID(str(organization_id))]
    else:
        organizations = sorted(set((await session.scalars(
            select(RollupChange.organization_id).distinct())).all()))
    folded = 0
    async with periodic.each_organization(session, FOLD, only=organization_id) as parts:
        for owner in organizations:
            folded += await parts.run(owner, partial(days.fold, session, owner)) or 0
    return folded
