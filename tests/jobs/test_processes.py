"""Real worker processes: killed with SIGKILL, and several at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

import tests.jobkinds  # noqa: F401
from amends.db import Database
from amends.jobs import service as jobs
from amends.models import Job

TESTS_DIR = Path(__file__).resolve().parents[1]
AMENDS = Path(sys.executable).with_name("amends")


def start_worker(database_url: str, *, lease: float = 2.0) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AMENDS_DATABASE_URL": database_url,
        "AMENDS_JOB_LEASE_SECONDS": str(lease),
        "AMENDS_WORKER_POLL_SECONDS": "0.05",
        "AMENDS_LOG_LEVEL": "WARNING",
        "AMENDS_OUTBOUND_ALLOW_PRIVATE": "true",  # the receivers listen on 127.0.0.1
        "PYTHONPATH": str(TESTS_DIR.parent),
    }
    return subprocess.Popen(
        [str(AMENDS), "worker", "--include", "tests.jobkinds", "--concurrency", "8"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


async def wait_for(predicate: object, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_a_job_whose_worker_is_killed_is_finished_by_another_after_the_lease(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "runs.log"
    async with db.transaction() as session:
        job_id = await jobs.enqueue(session, "test.record",
                                    payload={"path": str(out), "tag": "slow", "sleep": 2.0})
    first = start_worker(database_url)
    try:
        async def started() -> bool:
            return out.exists() and "start slow" in out.read_text()

        await wait_for(started, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    second = start_worker(database_url)
    try:
        async def finished() -> bool:
            async with db.transaction(write=False) as session:
                return await session.scalar(select(Job.status).where(Job.id == job_id)) \
                    == "succeeded"

        await wait_for(finished, timeout=60)
    finally:
        stop(second)
    lines = out.read_text().splitlines()
    starts = [line for line in lines if line.startswith("start")]
    ends = [line for line in lines if line.startswith("end")]
    assert len(starts) == 2, lines  # the killed run and the rerun
    assert len(ends) == 1
    assert starts[0].split()[2] == str(first.pid)
    assert ends[0].split()[2] == str(second.pid)
    async with db.transaction(write=False) as session:
        job = await session.get(Job, job_id)
    assert job is not None
    assert job.attempts == 2


async def test_two_workers_never_run_the_same_job_twice(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "runs.log"
    total = 1000
    async with db.transaction() as session:
        for n in range(total):
            await jobs.enqueue(session, "test.record", payload={"path": str(out), "tag": f"j{n}"})
    workers = [start_worker(database_url, lease=30), start_worker(database_url, lease=30)]
    try:
        async def all_done() -> bool:
            async with db.transaction(write=False) as session:
                done = await session.scalar(
                    select(func.count()).select_from(Job).where(
                        Job.status == "succeeded", Job.kind == "test.record"))
            return done == total

        await wait_for(all_done, timeout=120)
    finally:
        for worker in workers:
            stop(worker)
    starts = [line.split() for line in out.read_text().splitlines() if line.startswith("start")]
    runs = Counter(tag for _, tag, _ in starts)
    assert len(runs) == total
    assert max(runs.values()) == 1
    by_worker = Counter(pid for _, _, pid in starts)
    assert set(by_worker) <= {str(w.pid) for w in workers}
