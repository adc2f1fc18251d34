"""Time to import 1,000,000 pool codes from a CSV, on PostgreSQL and on SQLite.

    .venv/bin/python -m bench.import_codes [--rows 1000000]

The same file is imported a second time on each database: that run adds nothing (every row
is a duplicate) and is printed as the comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from amends.actor import Actor
from amends.codepools import service as pools
from amends.config import Settings
from amends.db import Database
from amends.migrate import upgrade
from amends.organizations.service import create_organization
from bench._pg import scratch_postgres


async def chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            yield block


async def run(url: str, path: Path) -> list[tuple[float, int, int]]:
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    async with db.transaction() as session:
        org = await create_organization(session, slug="bench", name="Bench")
        actor = Actor.system(org.id, "bench")
        pool = await pools.create_pool(session, actor, name="Tills")
    results = []
    for _ in range(2):
        started = time.perf_counter()
        async with db.transaction() as session:
            record = await pools.import_codes(session, actor, pool=pool, chunks=chunks(path),
                                              source=path.name)
        results.append((time.perf_counter() - started, record.added, record.duplicates))
    await db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "codes.csv"
        with path.open("w") as out:
            out.write("code\n")
            for n in range(args.rows):
                out.write(f"POS{n:09d}\n")
        size_mb = path.stat().st_size / 1e6
        print(f"{args.rows:,} codes, {size_mb:.1f} MB CSV, streamed in 1 MiB chunks")
        with scratch_postgres() as url:
            pg = asyncio.run(run(url, path))
        sqlite_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(sqlite_url)
        lite = asyncio.run(run(sqlite_url, path))
    for name, (first, again) in (("PostgreSQL", pg), ("SQLite", lite)):
        print(f"{name:10} first import: {first[0]:6.1f} s ({first[1] / first[0]:8.0f} rows/s, "
              f"added {first[1]:,}) · same file again: {again[0]:5.1f} s (added {again[1]:,}, "
              f"duplicates {again[2]:,})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB (the file is never held in memory)")


if __name__ == "__main__":
    main()
