"""The worker: claims due jobs, runs each in its own transaction, renews leases, retries.

Any number of workers (processes, or the in-process worker of `amends serve`) can run against
one database. A job runs at least once; its database effects commit atomically with its
completion, so they happen exactly once. Effects outside the database (an email) use the
job's id as a dedupe key.

Jobs of a batched kind (`registry.batch_job`) are claimed many at a time and run together as
one task, which takes one of the worker's `concurrency` places.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.config import Settings
from amends.db import Database
from amends.jobs import service as jobs
from amends.jobs.registry import (
    JobKind,
    arguments,
    call,
    get_kind,
    periodic_kinds,
    shutdown_hooks,
)
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
        self._batched = 0  # jobs claimed in batches and not yet finished

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
            for unit in claimed:
                task = asyncio.create_task(self._run_unit(unit))
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

    async def _claim_batch(self) -> list[list[Job]]:
        """Due jobs, each alone or with others of its batched kind (filled up to the kind's
        batch size in the same transaction)."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return []
        try:
            async with self.db.transaction() as session:
                claimed = await jobs.claim(session, limit=free, lease=self.lease)
                units: list[list[Job]] = []
                batches: dict[str, list[Job]] = {}
                for job in claimed:
                    kind = get_kind(job.kind)
                    if kind is not None and kind.batch is not None:
                        batches.setdefault(kind.name, []).append(job)
                    else:
                        units.append([job])
                for name, batch in batches.items():
                    size = get_kind(name).batch_size  # type: ignore[union-attr]
                    # At most two batches' worth in hand: a job claimed later (an agent's
                    # message) waits behind few others.
                    room = min(size, 2 * size - self._batched) - len(batch)
                    if room > 0:
                        batch += await jobs.claim(session, limit=room, lease=self.lease,
                                                  kind=name)
                    units.append(batch)
            self._batched += sum(len(batch) for batch in batches.values())
            return units
        except Exception:
            log.exception("claiming jobs failed")
            await asyncio.sleep(self.settings.worker_poll_seconds)
            return []

    async def run_until_idle(self, *, max_jobs: int | None = None) -> int:
        """Run due jobs until none is left (tests, CLI `jobs run-due`). Returns how many ran."""
        done = 0
        while max_jobs is None or done < max_jobs:
            units = await self._claim_batch()
            if not units:
                return done
            await asyncio.gather(*(self._run_unit(unit) for unit in units))
            done += sum(len(unit) for unit in units)
        return done

    async def _heartbeat(self, claimed: Sequence[Job]) -> None:
        interval = self.settings.job_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            async with self.db.transaction() as session:
                await session.execute(
                    update(Job)
                    .where(Job.id.in_([job.id for job in claimed]), Job.status == jobs.RUNNING,
                           Job.lease_token.in_({job.lease_token for job in claimed}))
                    .values(locked_until=utcnow() + self.lease, run_at=utcnow() + self.lease)
                    .execution_options(synchronize_session=False)
                )

    async def _run_unit(self, unit: list[Job]) -> None:
        kind = get_kind(unit[0].kind)
        if kind is not None and kind.batch is not None:
            await self._run_batch(kind, unit)
        else:
            await self._run(unit[0])

    async def _run_batch(self, kind: JobKind, claimed: list[Job]) -> None:
        """Run a batch; a job its function left without an end fails (and is retried)."""
        assert kind.batch is not None
        batch = _Batch(self, claimed)
        heartbeat = asyncio.create_task(self._heartbeat(claimed))
        try:
            with outbound.policy(allow_private=self.settings.outbound_allow_private):
                await kind.batch(batch)
            for job in batch.unfinished():
                await batch.fail(job, RuntimeError(f"{kind.name}: left unfinished"))
        except Exception as exc:
            for job in batch.unfinished():
                await batch.fail(job, exc)
        finally:
            self._batched -= len(claimed)
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat

    async def _run(self, job: Job) -> None:
        kind = get_kind(job.kind)
        heartbeat = asyncio.create_task(self._heartbeat([job]))
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


class _Batch:
    """The worker's side of `registry.Batch`."""

    def __init__(self, worker: Worker, claimed: list[Job]) -> None:
        self.worker = worker
        self._jobs = claimed
        self._open = {job.id: job for job in claimed}

    @property
    def jobs(self) -> Sequence[Job]:
        return self._jobs

    def unfinished(self) -> list[Job]:
        return list(self._open.values())

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.worker.db.transaction(write=False) as session:
            yield session

    async def succeed(self, done: Sequence[Job],
                      record: Callable[[AsyncSession], Awaitable[None]] | None = None) -> None:
        done = [job for job in done if job.id in self._open]
        if not done:
            return
        async with self.worker.db.transaction() as session:
            if record is not None:
                await record(session)
            kept = await jobs.mark_many_succeeded(session, done)
        for job in done:
            del self._open[job.id]
        if kept:
            JOBS_FINISHED.labels(kind=done[0].kind, outcome="succeeded").inc(len(kept))
        if len(kept) < len(done):
            log.warning("lease lost; another worker owns the job",
                        extra={"kind": done[0].kind, "jobs": len(done) - len(kept)})

    async def fail(self, job: Job, error: Exception) -> None:
        if self._open.pop(job.id, None) is not None:
            await self.worker._fail(job, error)


async def _first(*awaitables: object) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]  # type: ignore[call-overload]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
