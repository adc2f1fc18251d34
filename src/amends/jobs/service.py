"""The jobs table: enqueue in the caller's transaction, claim with a lease, finish, retry.

Claiming is one statement. On PostgreSQL the candidate rows are locked with
`FOR UPDATE SKIP LOCKED`, so any number of workers claim disjoint jobs without waiting; on
SQLite the claim runs inside `BEGIN IMMEDIATE`, which serialises claimers. A claim sets a fresh
`lease_token`; finishing or failing a job is conditional on that token, so a worker whose lease
expired (and whose job another worker took over) can no longer record anything.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import Conflict, NotFound
from amends.jobs.registry import DEFAULT_PRIORITY, get_kind
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.pagination import Page, newest_first
from amends.kit.secrets import random_token
from amends.kit.sql import dialect_of, insert_for
from amends.models import Job

QUEUED, RUNNING, SUCCEEDED, DEAD = "queued", "running", "succeeded", "dead"
DEFAULT_MAX_ATTEMPTS = 10


class JobNotFound(NotFound):
    code, title = "job_not_found", "No such job"


class JobNotDead(Conflict):
    code, title = "job_not_dead", "Only a dead job can be retried"


def job_values(kind: str, *, organization_id: uuid.UUID | None = None,
               payload: dict[str, Any] | None = None, run_at: datetime | None = None,
               max_attempts: int | None = None, dedupe_key: str | None = None,
               priority: int | None = None) -> dict[str, Any]:
    """The row of a queued job (for callers that insert many in one statement). `priority`
    overrides the kind's (bulk work yields to a person waiting)."""
    registered = get_kind(kind)
    attempts = max_attempts or (registered.max_attempts if registered else None)
    return {"id": new_id(), "organization_id": organization_id, "kind": kind,
            "payload": payload or {}, "status": QUEUED, "attempts": 0,
            "priority": priority if priority is not None else (
                registered.priority if registered else DEFAULT_PRIORITY),
            "max_attempts": attempts or DEFAULT_MAX_ATTEMPTS, "run_at": run_at or utcnow(),
            "dedupe_key": dedupe_key, "created_at": utcnow()}


async def enqueue(
    session: AsyncSession,
    kind: str,
    *,
    organization_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    dedupe_key: str | None = None,
    priority: int | None = None,
) -> uuid.UUID | None:
    """Insert a job in the caller's transaction (the transactional outbox).

    With a `dedupe_key`, a job is not added while another queued job has the same key; the
    return value is then None.
    """
    values = job_values(kind, organization_id=organization_id, payload=payload, run_at=run_at,
                        max_attempts=max_attempts, dedupe_key=dedupe_key, priority=priority)
    statement = insert_for(session, Job.__table__).values(**values)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(
            # The predicate must match the partial index's text for PostgreSQL to infer it.
            index_elements=["dedupe_key"], index_where=text("status = 'queued'")
        )
    result = await session.execute(statement.returning(Job.__table__.c.id))
    inserted = result.scalar_one_or_none()
    session.info["jobs_enqueued"] = True
    return inserted


async def claim(
    session: AsyncSession, *, limit: int, lease: timedelta, now: datetime | None = None,
    kind: str | None = None,
) -> list[Job]:
    """Take up to `limit` due jobs: queued ones by priority then due time, and running ones
    whose lease ran out (their worker died); with `kind`, only jobs of that kind (a batch
    filled up).

    `run_at` is the next time a job needs attention: when to run a queued job, and when the
    lease of a running one runs out (claims and heartbeats move it). Each kind of candidate
    is read in order from its own partial index and only `limit` rows are looked at, so a
    claim costs the same however many jobs are due. On PostgreSQL the candidates are locked
    with `FOR UPDATE SKIP LOCKED` (workers claim disjoint jobs without waiting), in
    materialised CTEs: as a plain `IN (subquery)`, a nested-loop plan may re-run a
    LIMIT ... SKIP LOCKED subquery for every outer row and take every due job at once.
    """
    now = now or utcnow()
    postgres = dialect_of(session) == "postgresql"

    def candidates(status: str, *order: Any) -> Any:
        query = (select(Job.id, Job.priority, Job.run_at)
                 .where(Job.status == status, Job.run_at <= now).order_by(*order).limit(limit))
        if kind is not None:
            query = query.where(Job.kind == kind)
        if postgres:
            query = query.with_for_update(skip_locked=True)
        return query.cte(f"due_{status}").prefix_with("MATERIALIZED")

    queued = candidates(QUEUED, Job.priority, Job.run_at)
    expired = candidates(RUNNING, Job.run_at)
    both = union_all(select(queued), select(expired)).subquery("due")
    picked = select(both.c.id).order_by(both.c.priority, both.c.run_at).limit(limit)
    token = random_token(16)
    statement = (
        update(Job)
        .where(Job.id.in_(picked.scalar_subquery()), Job.status.in_((QUEUED, RUNNING)),
               Job.run_at <= now)
        .values(
            status=RUNNING,
            attempts=Job.attempts + 1,
            locked_until=now + lease,
            run_at=now + lease,
            lease_token=token,
        )
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list((await session.scalars(statement)).all())


async def mark_succeeded(session: AsyncSession, job: Job) -> bool:
    result = await session.execute(
        update(Job)
        .where(Job.id == job.id, Job.lease_token == job.lease_token, Job.status == RUNNING)
        .values(status=SUCCEEDED, finished_at=utcnow(), locked_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_many_succeeded(session: AsyncSession, done: Sequence[Job]) -> set[uuid.UUID]:
    """`mark_succeeded` for many jobs in one statement; returns the ids of those whose lease
    this worker still held."""
    if not done:
        return set()
    result = await session.execute(
        update(Job)
        .where(Job.id.in_([job.id for job in done]), Job.status == RUNNING,
               Job.lease_token.in_({job.lease_token for job in done}))
        .values(status=SUCCEEDED, finished_at=utcnow(), locked_until=None, last_error=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


def backoff(attempts: int, *, base: float, maximum: float) -> timedelta:
    """Exponential backoff with ±20% jitter, so a burst of failures does not retry in step."""
    delay = min(maximum, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


async def mark_failed(
    session: AsyncSession, job: Job, *, error: str, base: float, maximum: float
) -> str | None:
    """Retry later, or bury the job once it has used its attempts. Returns the new status."""
    status = DEAD if job.attempts >= job.max_attempts else QUEUED
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(Job.id == job.id, Job.lease_token == job.lease_token, Job.status == RUNNING)
        .values(
            status=status,
            run_at=now + backoff(job.attempts, base=base, maximum=maximum),
            locked_until=None,
            last_error=error[:4000],
            finished_at=now if status == DEAD else None,
        )
        .execution_options(synchronize_session=False)
    )
    return status if getattr(result, "rowcount", 0) else None


async def list_jobs(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    status: str = DEAD,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Job]:
    query = select(Job).where(Job.status == status)
    if organization_id is not None:
        query = query.where(Job.organization_id == organization_id)
    return await newest_first(session, query, Job.id, cursor=cursor, limit=limit)

async def retry_dead(session: AsyncSession, actor: Actor | None, *, job_id: uuid.UUID,
                     organization_id: uuid.UUID | None) -> Job:
    """Give a dead job a fresh set of attempts, now."""
    query = select(Job).where(Job.id == job_id)
    if organization_id is not None:
        query = query.where(Job.organization_id == organization_id)
    job = await session.scalar(query)
    if job is None:
        raise JobNotFound()
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == DEAD)
        .values(status=QUEUED, attempts=0, run_at=utcnow(), finished_at=None, lease_token=None)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise JobNotDead(f"The job is {job.status}.")
    await session.refresh(job)
    session.info["jobs_enqueued"] = True
    if actor is not None:
        await audit.record(
            session, actor, action="job.retried", object_type="job", object_id=job.id,
            after={"kind": job.kind},
        )
    return job


async def queue_depth(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Job.status, func.count()).where(Job.status.in_([QUEUED, RUNNING, DEAD]))
        .group_by(Job.status)
    )
    depth = {QUEUED: 0, RUNNING: 0, DEAD: 0}
    depth.update({status: int(count) for status, count in rows.all()})
    return depth
