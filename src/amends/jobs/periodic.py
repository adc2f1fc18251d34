"""Periodic jobs that cover every organisation run each organisation's part on its own.

One run of such a job (`recovery.sweep`, `delivery.remind_expiring`, `outcomes.rollup`) walks
the organisations in the job's one transaction, and each part runs inside a SAVEPOINT. A part
that fails is rolled back alone: the failure is logged, counted
(`amends_jobs_finished_total{outcome="organization_failed"}`), recorded where the
organisation's admin sees it, and the run goes on with the next part. Nothing one organisation
saves (a rule, a template, a row written by an old version) can stop the work of the others.

Where the admin sees it: a dead job of that kind for their organisation in `GET /v1/jobs`,
its `last_error` saying what failed (one row, kept up to date while the part keeps failing),
and a `job.failed` audit event when it starts failing. Retrying that job runs the kind for
their organisation alone, at once; the row is marked succeeded the first time their part
succeeds again, by a retry or by the next periodic run.

The other periodic jobs (`approvals.expire`, `reservations.expire`, `maintenance.purge`) are
single set-based statements over due rows: they read nothing an organisation wrote, so no
organisation can make them fail, and splitting them per organisation would only multiply
their statements.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import AmendsError
from amends.jobs import service as jobs
from amends.kit.clock import utcnow
from amends.models import Job
from amends.ops.metrics import JOBS_FINISHED

log = logging.getLogger("amends.worker")
T = TypeVar("T")
ERROR_CHARS = 1000
CHUNK = 500


def failure_key(kind: str, organization_id: uuid.UUID) -> str:
    return f"periodic:{kind}:{organization_id}"


def describe(error: BaseException) -> str:
    """What went wrong, in one line an organisation's admin may read: a service error's own
    words, else the exception's first line (never a database driver's SQL and parameters)."""
    if isinstance(error, AmendsError):
        text = error.detail
    else:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text.splitlines()[0][:ERROR_CHARS] if text else type(error).__name__


class OrganizationParts:
    """One run of a periodic job, part by part (see the module's docstring)."""

    def __init__(self, session: AsyncSession, kind: str, *, only: uuid.UUID | None) -> None:
        self.session = session
        self.kind = kind
        self.only = only
        self.failed: set[uuid.UUID] = set()
        self.succeeded: set[uuid.UUID] = set()

    async def run(self, organization_id: uuid.UUID, part: Callable[[], Awaitable[T]], *,
                  label: str | None = None) -> T | None:
        """Run one part of `organization_id`'s work; None when it failed (and was recorded,
        after `label`, e.g. the rule's name, when its own words do not name it).

        A run for one organisation alone (a retry of its dead job) lets the error through, so
        the worker records it on that job as on any other."""
        if self.only is not None:
            return await part()
        try:
            async with self.session.begin_nested():
                result = await part()
        except Exception as error:
            self.failed.add(organization_id)
            detail = describe(error)
            if label and not detail.startswith(label):
                detail = f"{label}: {detail}"
            await self._record_failure(organization_id, error, detail)
            return None
        self.succeeded.add(organization_id)
        return result

    async def _record_failure(self, organization_id: uuid.UUID, error: Exception,
                              detail: str) -> None:
        JOBS_FINISHED.labels(kind=self.kind, outcome="organization_failed").inc()
        log.error("a periodic job failed for one organisation; the others go on",
                  exc_info=error, extra={"kind": self.kind,
                                         "organization_id": str(organization_id),
                                         "error": detail})
        key = failure_key(self.kind, organization_id)
        now = utcnow()
        kept = await self.session.execute(
            update(Job).where(Job.organization_id == organization_id, Job.status == jobs.DEAD,
                              Job.dedupe_key == key)
            .values(last_error=detail, finished_at=now)
            .execution_options(synchronize_session=False))
        if getattr(kept, "rowcount", 0):
            return
        retrying = await self.session.scalar(select(Job.id).where(
            Job.organization_id == organization_id,
            Job.status.in_((jobs.QUEUED, jobs.RUNNING)), Job.dedupe_key == key).limit(1))
        if retrying is not None:
            return  # the admin's retry is on its way and will say how it went
        row = jobs.job_values(self.kind, organization_id=organization_id,
                              payload={"organization_id": str(organization_id)},
                              max_attempts=1, dedupe_key=key)
        row.update(status=jobs.DEAD, attempts=1, last_error=detail, finished_at=now)
        await self.session.execute(insert(Job).values(**row))
        await audit.record(self.session, Actor.system(organization_id, self.kind),
                           action="job.failed", object_type="job", object_id=row["id"],
                           after={"kind": self.kind, "error": detail})

    async def finish(self) -> None:
        """Mark the recorded failures of organisations whose every part succeeded as over."""
        recovered = sorted(self.succeeded - self.failed)
        for start in range(0, len(recovered), CHUNK):
            chunk = recovered[start:start + CHUNK]
            # By organisation and status first: the jobs index (organization_id, status).
            await self.session.execute(
                update(Job).where(
                    Job.organization_id.in_(chunk), Job.status == jobs.DEAD,
                    Job.dedupe_key.in_([failure_key(self.kind, o) for o in chunk]))
                .values(status=jobs.SUCCEEDED, finished_at=utcnow())
                .execution_options(synchronize_session=False))


@asynccontextmanager
async def each_organization(session: AsyncSession, kind: str, *,
                            only: uuid.UUID | str | None = None
                            ) -> AsyncIterator[OrganizationParts]:
    """`async with each_organization(session, kind) as parts: await parts.run(org, part)`.

    `only`: the organisation a retried job runs for (its payload's `organization_id`)."""
    parts = OrganizationParts(session, kind, only=uuid.UUID(str(only)) if only else None)
    yield parts
    await parts.finish()
