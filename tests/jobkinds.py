"""Job kinds used by the worker tests (loaded into worker processes with `--include`)."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs.registry import job


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@job("test.record")
async def record(session: AsyncSession, *, path: str, tag: str, sleep: float = 0.0) -> None:
    _append(path, f"start {tag} {os.getpid()}")
    if sleep:
        await asyncio.sleep(sleep)
    _append(path, f"end {tag} {os.getpid()}")


@job("test.fail", max_attempts=3)
async def fail(session: AsyncSession, *, message: str) -> None:
    raise RuntimeError(message)
