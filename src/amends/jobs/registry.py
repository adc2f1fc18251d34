"""Job kinds: `@job("delivery.send")` registers the function that runs a job of that kind.

A job function takes the job's session (its transaction commits with the job's completion)
and the payload as keyword arguments. A function (or failure hook) that declares an
`organization_id` parameter also gets the organisation of the job's row, so it can filter every
statement by it: on a database distributed by organisation, each then reaches one shard.

A kind registered with `@batch_job` runs many of its due jobs at once instead: the worker
claims up to `size` of them together and hands them to one function (`Batch`), which reads
what they need set-wise, does its outside work concurrently, and ends each job on its own:
`succeed` records a set of jobs' effects and their completion in one transaction, `fail`
retries one job with its own attempts and backoff (and its `on_failure`), as if it had run
alone.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from amends.models import Job

JobFunction = Callable[..., Awaitable[None]]


class Batch(Protocol):
    """Claimed jobs of one batched kind, and the ways to end each of them (the worker's)."""

    @property
    def jobs(self) -> Sequence[Job]: ...

    def reading(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A short read-only transaction (no lock held while the outside work runs)."""
        ...

    async def succeed(self, done: Sequence[Job],
                      record: Callable[[AsyncSession], Awaitable[None]] | None = None) -> None:
        """In one transaction: `record` (the jobs' effects), then the jobs' completion. A job
        whose lease another worker took meanwhile is left to it (its effects still commit:
        they are true, and written conditionally)."""
        ...

    async def fail(self, job: Job, error: Exception) -> None:
        """This job's attempt failed: retried later with its backoff, or dead."""
        ...


BatchFunction = Callable[[Batch], Awaitable[None]]


FailureHook = Callable[..., Awaitable[None]]
DEFAULT_PRIORITY = 5


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    run: JobFunction | None  # one job at a time; or
    max_attempts: int | None
    every: timedelta | None
    on_failure: FailureHook | None = None
    priority: int = DEFAULT_PRIORITY
    batch: BatchFunction | None = None  # many at once, up to `batch_size`
    batch_size: int = 1


_kinds: dict[str, JobKind] = {}
_on_shutdown: list[Callable[[], Awaitable[None]]] = []


def job(
    name: str, *, max_attempts: int | None = None, every: timedelta | None = None,
    on_failure: FailureHook | None = None, priority: int = DEFAULT_PRIORITY,
) -> Callable[[JobFunction], JobFunction]:
    """Register a job kind; with `every`, the worker keeps one run of it scheduled.
    Among due jobs, a lower `priority` (0-9) runs first.

    `on_failure(session, error=..., attempts=..., dead=..., **payload)` runs in the transaction
    that records a failed attempt, so a feature can keep its own log of attempts and errors.
    """

    def register(func: JobFunction) -> JobFunction:
        _kinds[name] = JobKind(name=name, run=func, max_attempts=max_attempts, every=every,
                               on_failure=on_failure, priority=priority)
        return func

    return register


def batch_job(
    name: str, *, size: int, max_attempts: int | None = None,
    on_failure: FailureHook | None = None, priority: int = DEFAULT_PRIORITY,
) -> Callable[[BatchFunction], BatchFunction]:
    """Register a kind whose due jobs run up to `size` at a time through one function that
    takes a `Batch`. Each job keeps its own payload, attempts, backoff and `on_failure`."""

    def register(func: BatchFunction) -> BatchFunction:
        _kinds[name] = JobKind(name=name, run=None, max_attempts=max_attempts, every=None,
                               on_failure=on_failure, priority=priority, batch=func,
                               batch_size=max(1, size))
        return func

    return register


def get_kind(name: str) -> JobKind | None:
    return _kinds.get(name)


def periodic_kinds() -> list[JobKind]:
    return [kind for kind in _kinds.values() if kind.every is not None]


def arguments(func: Callable[..., Any], payload: dict[str, Any],
              organization_id: object | None) -> dict[str, Any]:
    """The keyword arguments of `func` for a job: its payload, and the job's organisation when
    `func` takes one and the payload does not say (a periodic run for every organisation has
    none)."""
    if organization_id is None or "organization_id" in payload or \
            not _takes_organization(func):
        return payload
    return {**payload, "organization_id": str(organization_id)}


@functools.cache
def _takes_organization(func: Callable[..., Any]) -> bool:
    return "organization_id" in inspect.signature(func).parameters


async def call(kind: JobKind, session: AsyncSession, payload: dict[str, Any], *,
               organization_id: object | None = None) -> None:
    assert kind.run is not None, f"{kind.name} runs in batches"
    await kind.run(session, **arguments(kind.run, payload, organization_id))


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Register what a stopping worker does after its last job (close kept connections)."""
    _on_shutdown.append(hook)
    return hook


def shutdown_hooks() -> list[Callable[[], Awaitable[None]]]:
    return list(_on_shutdown)
