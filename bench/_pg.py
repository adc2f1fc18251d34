"""Scratch PostgreSQL and Citus databases for benchmarks."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from amends import citus
from amends.migrate import upgrade

SERVER = os.environ.get(
    "AMENDS_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
# A database on a Citus coordinator whose pg_dist_node lists the workers (the cluster of
# ../shared/citus/start-citus-cluster.sh: coordinator on 9700, workers on 9701 and 9702).
CITUS_SERVER = os.environ.get(
    "AMENDS_BENCH_CITUS_URL", "postgresql+asyncpg://postgres@127.0.0.1:9700/citus"
)


async def _admin(sql: str, server: str = SERVER) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@contextmanager
def scratch_postgres(prefix: str = "amends_bench", *, keep: bool = False) -> Iterator[str]:
    """A new database migrated to head, dropped on exit unless `keep`."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        if not keep:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def scratch_citus(prefix: str = "amends_bench", *, keep: bool = False) -> Iterator[str]:
    """A new database on the Citus coordinator of AMENDS_BENCH_CITUS_URL and on each of its
    workers, with the citus extension on every node and the workers added, migrated to head
    by `amends migrate`'s code (which distributes the tables by organisation); dropped from
    every node on exit unless `keep`. Yields the coordinator's URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    print(f"Citus: creating {name} on the coordinator and its workers", flush=True)
    try:
        url = asyncio.run(citus.create_database(CITUS_SERVER, name))
        upgrade(url)
        print(f"Citus: {name} migrated and distributed in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        yield url
    finally:
        if not keep:
            asyncio.run(citus.drop_database(CITUS_SERVER, name))
