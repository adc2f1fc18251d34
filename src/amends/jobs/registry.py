"""Job kinds: `@job("delivery.send")` registers the function that runs a job of that kind.

A job function takes the job's session (its transaction commits with the job's completion)
and the payload as keyword arguments. A function (or failure hook) that declares an
`organization_id` parameter also gets the organisation of the job's row, so it can filter every
statement by it: on a database distributed by organisation, each then reaches one shard.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

JobFunction = Callable[..., Awaitable[None]]


FailureHook = Callable[..., Awaitable[None]]
DEFAULT_PRIORITY = 5


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    run: JobFunction
    max_attempts: int | None
    every: timedelta | None
    on_failure: FailureHook | None = None
    priority: int = DEFAULT_PRIORITY


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
    await kind.run(session, **arguments(kind.run, payload, organization_id))


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Register what a stopping worker does after its last job (close kept connections)."""
    _on_shutdown.append(hook)
    return hook


def shutdown_hooks() -> list[Callable[[], Awaitable[None]]]:
    return list(_on_shutdown)
