"""Job kinds: `@job("delivery.send")` registers the function that runs a job of that kind.

A job function takes the job's session (its transaction commits with the job's completion)
and the payload as keyword arguments.
"""

from __future__ import annotations

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


async def call(kind: JobKind, session: AsyncSession, payload: dict[str, Any]) -> None:
    await kind.run(session, **payload)


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Register what a stopping worker does after its last job (close kept connections)."""
    _on_shutdown.append(hook)
    return hook


def shutdown_hooks() -> list[Callable[[], Awaitable[None]]]:
    return list(_on_shutdown)
