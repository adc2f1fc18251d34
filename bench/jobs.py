"""Jobs/s for 10,000 no-op jobs with 1 and with 4 worker processes on PostgreSQL.

    .venv/bin/python -m bench.jobs [--jobs 10000] [--sqlite]

The 1-worker run is the baseline; the 4-worker figure is printed with its ratio to it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from amends.config import Settings
from amends.db import Database
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.migrate import upgrade
from amends.models import Job
from bench._pg import scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
AMENDS = Path(sys.executable).with_name("amends")


async def _enqueue(url: str, count: int) -> None:
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    now = utcnow()
    rows = [
        {"id": new_id(), "kind": "bench.noop", "payload": {}, "status": "queued", "attempts": 0,
         "max_attempts": 3, "run_at": now, "created_at": now}
        for _ in range(count)
    ]
    async with db.transaction() as session:
        for start in range(0, count, 1000):
            await session.execute(insert(Job), rows[start:start + 1000])
    await db.dispose()


async def _done(url: str) -> int:
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    async with db.transaction(write=False) as session:
        done = await session.scalar(
            select(func.count()).select_from(Job)
            .where(Job.kind == "bench.noop", Job.status == "succeeded"))
    await db.dispose()
    return int(done or 0)


def run(url: str, *, count: int, workers: int) -> float:
    asyncio.run(_enqueue(url, count))
    env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_LOG_LEVEL": "WARNING",
           "AMENDS_WORKER_POLL_SECONDS": "0.05", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    procs = [subprocess.Popen([str(AMENDS), "worker", "-I", "bench.jobkinds",
                               "--concurrency", "16"], env=env) for _ in range(workers)]
    try:
        baseline = 0
        while True:
            done = asyncio.run(_done(url)) - baseline
            if done >= count:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--sqlite", action="store_true", help="also measure SQLite")
    args = parser.parse_args()
    print(f"{args.jobs:,} no-op jobs; rate includes worker start-up (~1 s)")
    with scratch_postgres() as url:
        one = run(url, count=args.jobs, workers=1)
    with scratch_postgres() as url:
        four = run(url, count=args.jobs, workers=4)
    print(f"PostgreSQL  1 worker : {one:8.0f} jobs/s  (baseline)")
    print(f"PostgreSQL  4 workers: {four:8.0f} jobs/s  ({four / one:.2f}x the baseline)")
    if args.sqlite:
        for workers in (1, 4):
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                upgrade(url)
                rate = run(url, count=args.jobs, workers=workers)
            print(f"SQLite      {workers} worker(s): {rate:8.0f} jobs/s")


if __name__ == "__main__":
    main()
