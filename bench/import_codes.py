"""Time to import 1,000,000 pool codes from a CSV, on PostgreSQL, SQLite and Citus.

    .venv/bin/python -m bench.import_codes [--rows 1000000] [--no-citus]

Targets (issue #22, item 4), each a ratio printed as measured / target: 1,000,000 codes in
under 10 s on PostgreSQL and under 15 s on SQLite (scaled with --rows; Citus is measured
against PostgreSQL's); the same file imported again adds nothing; memory flat: each
database's import runs in a process of its own, which first imports a tenth of the file
into another organisation, and the full file then raises that process's peak memory by less
than 25 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from sqlalchemy import text

from amends.actor import Actor
from amends.codepools import service as pools
from amends.config import Settings
from amends.db import Database
from amends.migrate import upgrade
from amends.organizations.service import create_organization
from bench._pg import scratch_citus, scratch_postgres

TARGET_SECONDS = {"PostgreSQL": 10.0, "SQLite": 15.0, "Citus": 10.0}  # per 1,000,000 codes
FLAT_MB = 25.0  # what the full file may add to the peak of a tenth of it


@dataclass(frozen=True)
class Run:
    seconds: float
    added: int
    duplicates: int
    cpu: float  # this process's CPU seconds (SQLite works in one of its threads)
    server_cpu: float | None  # the PostgreSQL backend's (on Citus, the coordinator's)


@dataclass(frozen=True)
class Figures:
    seconds: float
    again_seconds: float
    cpu: tuple[float, float | None]
    added: int
    again_added: int
    again_duplicates: int
    warm_peak_mb: float  # after importing a tenth of the file
    peak_mb: float  # after importing the whole file twice


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of a local PostgreSQL backend so far (None when not local or SQLite)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _chunks(path: Path, limit: int | None = None) -> AsyncIterator[bytes]:
    left = limit if limit is not None else path.stat().st_size
    with path.open("rb") as handle:
        while left > 0 and (block := handle.read(min(1 << 20, left))):
            left -= len(block)
            yield block


async def _import(db: Database, slug: str, path: Path, name: str, *, limit: int | None = None,
                  runs: int = 1) -> list[Run]:
    async with db.transaction() as session:
        org = await create_organization(session, slug=slug, name=slug)
        actor = Actor.system(org.id, "bench")
        pool = await pools.create_pool(session, actor, name="Tills")
    size = limit if limit is not None else path.stat().st_size
    results = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TextColumn("{task.fields[rows]}"),
                  console=Console(stderr=True), transient=True) as progress:
        for run in range(runs):
            task = progress.add_task(f"{name} {slug} import {run + 1}", total=size, rows="")

            def show(consumed: int, report: pools.ImportReport, task: TaskID = task) -> None:
                progress.update(task, completed=consumed, rows=f"{report.rows:,} rows")

            started, cpu = time.perf_counter(), time.process_time()
            async with db.transaction() as session:
                backend = (await session.scalar(text("SELECT pg_backend_pid()"))
                           if db.dialect == "postgresql" else None)
                server = _server_cpu(backend)
                record = await pools.import_codes(session, actor, pool=pool,
                                                  chunks=_chunks(path, limit),
                                                  source=path.name, progress=show)
                server_after = _server_cpu(backend)
            results.append(Run(
                time.perf_counter() - started, record.added, record.duplicates,
                time.process_time() - cpu,
                None if server is None or server_after is None else server_after - server))
    return results


async def _measure(url: str, path: Path, name: str) -> Figures:
    db = Database(Settings(database_url=url, _env_file=None))
    # A tenth of the file first, in another organisation: the peak it leaves is the
    # baseline that the whole file must not raise much.
    await _import(db, "warm-up", path, name, limit=path.stat().st_size // 10)
    warm_peak = _peak_mb()
    first, again = await _import(db, "bench", path, name, runs=2)
    await db.dispose()
    return Figures(first.seconds, again.seconds, (first.cpu, first.server_cpu), first.added,
                   again.added, again.duplicates, warm_peak, _peak_mb())


def _measure_in_own_process(url: str, path: Path, name: str) -> Figures:
    return asyncio.run(_measure(url, path, name))


def _run(url: str, path: Path, name: str) -> Figures:
    """In a process of its own, so that its peak memory is this database's import alone."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        return executor.submit(_measure_in_own_process, url, path, name).result()


@contextmanager
def _sqlite(tmp: str) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    upgrade(url)
    yield url


def _verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-citus", action="store_true", help="skip the Citus cluster")
    args = parser.parse_args()
    scale = args.rows / 1_000_000
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "codes.csv"
        with path.open("w") as out:
            out.write("code\n")
            for n in range(args.rows):
                out.write(f"POS{n:09d}\n")
        size_mb = path.stat().st_size / 1e6
        print(f"{args.rows:,} codes, {size_mb:.1f} MB CSV, streamed in 1 MiB chunks")
        databases: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = [
            ("PostgreSQL", scratch_postgres), ("SQLite", lambda: _sqlite(tmp))]
        if not args.no_citus:
            databases.append(("Citus", scratch_citus))
        for name, scratch in databases:
            with scratch() as url:
                results[name] = _run(url, path, name)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, figures in results.items():
        target = TARGET_SECONDS[name] * scale
        grew = figures.peak_mb - figures.warm_peak_mb
        print(f"{name:10} first import: {figures.seconds:6.1f} s "
              f"({args.rows / figures.seconds:9,.0f} rows/s, added {figures.added:,}) · "
              f"same file again: {figures.again_seconds:5.1f} s (added {figures.again_added:,},"
              f" duplicates {figures.again_duplicates:,}) · peak memory "
              f"{figures.peak_mb:.0f} MB ({figures.warm_peak_mb:.0f} MB after a tenth)")
        client, server = figures.cpu
        where = "coordinator" if name == "Citus" else "server"
        print(f"{'':10} first import's CPU: this process {client:.1f} s"
              + (f" + {where} {server:.1f} s" if server is not None else "")
              + " (what it would take on an idle machine, roughly)")
        print(f"{'':10} first import {figures.seconds:.1f} s / target {target:.1f} s = "
              f"{figures.seconds / target:.2f}x: {_verdict(figures.seconds < target)} · again "
              f"{figures.again_seconds / target:.2f}x: {_verdict(figures.again_seconds < target)}"
              f" · again adds nothing: {_verdict(figures.again_added == 0)} · memory flat "
              f"(+{grew:.0f} MB for the whole file after a tenth, target < {FLAT_MB:.0f} MB): "
              f"{_verdict(grew < FLAT_MB)}")


if __name__ == "__main__":
    main()
