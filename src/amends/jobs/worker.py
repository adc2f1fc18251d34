"""The worker: claims due jobs, runs each in its own transaction, renews leases, retries.

Any number of workers (processes, or the in-process worker of `amends serve`) can run against
one database. A job runs at least once; its database effects commit atomically with its
completion, so they happen exactly once. Effects outside the database (an email) use the
job's id as a dedupe key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
from datetime import timedelta

from sqlalchemy import update

from amends.config import Settings
from amends.db import Database
from amends.jobs import service as jobs
from amends.jobs.registry import arguments, call, get_kind, periodic_kinds, shutdown_hooks
from amends.kit import outbound
from amends.kit.clock import utcnow
from amends.models import Job
from amends.ops.metrics import JOBS_FINISHED

log = logging.getLogger("amends.worker")


class UnknownJobKind(Exception):
    """A job of a kind this worker has no function for (its module was not loaded)."""


class Worker:
    def __init__(self, db: Database, settings: Settings, *, concurrency: int | None = None,
                 name: str | None = None) -> None:
        self.db = db
        self.settings = settings
        self.concurrency = max(1, concurrency or settings.worker_concurrency)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self._running: set[asyncio.Task[None]] = set()

    async def ensure_periodic(self) -> None:
        kinds = periodic_kinds()
        if not kinds:
            return
        async with self.db.transaction() as session:
            for kind in kinds:
                await jobs.enqueue(session, kind.name, dedupe_key=f"periodic:{kind.name}")

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"worker": self.name, "concurrency": self.concurrency})
        wake = self.db.jobs_enqueued
        last_ensure = -1e9
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if loop.time() - last_ensure > 60:
                try:
                    await self.ensure_periodic()
                    last_ensure = loop.time()
                except Exception:
                    log.exception("could not schedule periodic jobs")
            claimed = await self._claim_batch()
            for job in claimed:
                task = asyncio.create_task(self._run(job))
                self._running.add(task)
                task.add_done_callback(self._done)
            if claimed and len(self._running) < self.concurrency:
                continue  # more may be due right now
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    _first(wake.wait(), stop.wait()), timeout=self.settings.worker_poll_seconds
                )
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for hook in shutdown_hooks():
            try:
                await hook()
            except Exception:
                log.exception("a shutdown hook failed")
        log.info("worker stopped", extra={"worker": self.name})

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self.db.jobs_enqueued.set()

    async def _claim_batch(self) -> list[Job]:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return []
        try:
            async with self.db.transaction() as session:
                return await jobs.claim(session, limit=free, lease=self.lease)
        except Exception:
            log.exception("claiming jobs failed")
            await asyncio.sleep(self.settings.worker_poll_seconds)
            return []

    async def run_until_idle(self, *, max_jobs: int | None = None) -> int:
        """Run due jobs until none is left (tests, CLI `jobs run-due`). Returns how many ran."""
        done = 0
        while max_jobs is None or done < max_jobs:
            batch = await self._claim_batch()
            if not batch:
                return done
            await asyncio.gather(*(self._run(job) for job in batch))
            done += len(batch)
        return done

    async def _heartbeat(self, job: Job) -> None:
        interval = self.settings.job_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            async with self.db.transaction() as session:
                await session.execute(
                    update(Job)
                    .where(Job.id == job.id, Job.lease_token == job.lease_token)
                    .values(locked_until=utcnow() + self.lease, run_at=utcnow() + self.lease)
                    .execution_options(synchronize_session=False)
                )

    async def _run(self, job: Job) -> None:
        kind = get_kind(job.kind)
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            async with self.db.write_sessions() as session:
                try:
                    if kind is None:
                        raise UnknownJobKind(f"no job kind {job.kind!r} in this worker")
                    with outbound.policy(
                            allow_private=self.settings.outbound_allow_private):
                        await call(kind, session, dict(job.payload),
                                   organization_id=job.organization_id)
                    if kind.every is not None:
                        await jobs.enqueue(
                            session, kind.name, run_at=utcnow() + kind.every,
                            dedupe_key=f"periodic:{kind.name}",
                        )
                    if await jobs.mark_succeeded(session, job):
                        await session.commit()
                        JOBS_FINISHED.labels(kind=job.kind, outcome="succeeded").inc()
                    else:
                        await session.rollback()
                        log.warning("lease lost; another worker owns the job",
                                    extra={"job_id": str(job.id), "kind": job.kind})
                except BaseException:
                    await session.rollback()
                    raise
            if session.info.pop("jobs_enqueued", False):
                self.db.jobs_enqueued.set()
        except Exception as exc:
            await self._fail(job, exc)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat

    async def _fail(self, job: Job, exc: Exception) -> None:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        try:
            async with self.db.transaction() as session:
                status = await jobs.mark_failed(
                    session, job, error=error,
                    base=self.settings.job_backoff_base_seconds,
                    maximum=self.settings.job_backoff_max_seconds,
                )
                kind = get_kind(job.kind)
                if status is not None and kind is not None and kind.on_failure is not None:
                    await kind.on_failure(session, error=error, attempts=job.attempts,
                                          dead=status == jobs.DEAD, **arguments(
                                              kind.on_failure, dict(job.payload),
                                              job.organization_id))
        except Exception:
            log.exception("could not record a job failure", extra={"job_id": str(job.id)})
            return
        outcome = "dead" if status == jobs.DEAD else "retry"
        JOBS_FINISHED.labels(kind=job.kind, outcome=outcome).inc()
        log.warning("job failed", extra={"job_id": str(job.id), "kind": job.kind,
                                         "attempt": job.attempts, "outcome": outcome,
                                         "error": error})


async def _first(*awaitables: object) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]  # type: ignore[call-overload]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
