"""Scratch PostgreSQL and Citus databases for benchmarks."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

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


async def _citus_nodes(server: str) -> list[URL]:
    """The coordinator, then the workers, that the coordinator's database `server` lists."""
    engine = create_async_engine(server)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT groupid, nodename, nodeport FROM pg_dist_node"
            " WHERE noderole = 'primary' AND isactive ORDER BY groupid"))).all()
    await engine.dispose()
    given = make_url(server)
    workers = [given.set(host=host, port=port) for group, host, port in rows if group != 0]
    if not workers:
        raise RuntimeError(f"no Citus worker is listed in pg_dist_node of {given.database} "
                           f"on {given.host}:{given.port} (AMENDS_BENCH_CITUS_URL)")
    return [given, *workers]


@contextmanager
def scratch_citus(prefix: str = "amends_bench", *, keep: bool = False) -> Iterator[str]:
    """A new database on the Citus coordinator of AMENDS_BENCH_CITUS_URL and on each of its
    workers, with the citus extension on every node and the workers added, migrated to head
    by `amends migrate`'s code (which distributes the tables by organisation); dropped from
    every node on exit unless `keep`. Yields the coordinator's URL."""
    nodes = asyncio.run(_citus_nodes(CITUS_SERVER))
    coordinator = nodes[0]
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = coordinator.set(database=name).render_as_string(hide_password=False)
    started = time.perf_counter()
    print(f"Citus: creating {name} on the coordinator and {len(nodes) - 1} workers",
          flush=True)
    try:
        for node in nodes:
            asyncio.run(_admin(f'CREATE DATABASE "{name}"',
                               node.render_as_string(hide_password=False)))
            asyncio.run(_admin("CREATE EXTENSION citus",
                               node.set(database=name).render_as_string(hide_password=False)))
        asyncio.run(_admin(f"SELECT citus_set_coordinator_host('{coordinator.host}', "
                           f"{coordinator.port})", url))
        for worker in nodes[1:]:
            asyncio.run(_admin(f"SELECT citus_add_node('{worker.host}', {worker.port})", url))
        upgrade(url)
        print(f"Citus: {name} migrated and distributed in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        yield url
    finally:
        if not keep:
            for node in nodes:
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                                   node.render_as_string(hide_password=False)))
