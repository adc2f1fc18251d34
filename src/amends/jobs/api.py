from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query

from amends.auth import AdminCaller, MissingScope, SessionDep
from amends.errors import errors
from amends.jobs import service as jobs
from amends.jobs.schemas import JobOut, JobPage
from amends.kit.pagination import InvalidCursor
from amends.routing import router as make_router

router = make_router(prefix="/v1/jobs", tags=["jobs"])


@router.get("", responses=errors(MissingScope, InvalidCursor))
async def list_jobs(
    session: SessionDep,
    actor: AdminCaller,
    status: Literal["dead", "queued", "running", "succeeded"] = "dead",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobPage:
    """The organisation's background jobs by status; dead ones first of all."""
    page = await jobs.list_jobs(
        session, organization_id=actor.organization_id, status=status, cursor=cursor, limit=limit
    )
    return JobPage(items=[JobOut.model_validate(j) for j in page.items],
                   next_cursor=page.next_cursor)


@router.post("/{job_id}/retry", responses=errors(MissingScope, jobs.JobNotFound, jobs.JobNotDead))
async def retry_job(job_id: uuid.UUID, session: SessionDep, actor: AdminCaller) -> JobOut:
    """Run a dead job again, with a fresh set of attempts."""
    job = await jobs.retry_dead(
        session, actor, job_id=job_id, organization_id=actor.organization_id
    )
    return JobOut.model_validate(job)
