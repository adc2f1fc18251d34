"""The schema on Citus: distributed by organisation, as `amends migrate` leaves it, and a table
that a later migration adds is distributed like the others. On SQLite and plain PostgreSQL
the same code changes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from amends import citus
from amends.db import Base
from amends.migrate import upgrade


async def _rows(url: str, sql: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = list((await conn.execute(text(sql))).all())
    await engine.dispose()
    return rows


async def test_every_tenant_table_is_distributed_by_organisation_and_colocated(
    citus_database: str,
) -> None:
    # What the database holds, not what the models say: a table with an organisation that a
    # migration created and the models forgot is caught too.
    tenant_tables = {name for (name,) in await _rows(citus_database, (
        "SELECT table_name FROM information_schema.columns WHERE column_name ="
        f" '{citus.DISTRIBUTION_COLUMN}' AND table_schema = current_schema()"))}
    tenant_tables -= citus.LOCAL_TABLES
    held = {name: (kind, column, colocation) for name, kind, column, colocation in await _rows(
        citus_database, "SELECT table_name::text, citus_table_type, distribution_column,"
                        " colocation_id FROM citus_tables")}

    assert len(tenant_tables) > 30
    undistributed = {name: held.get(name) for name in tenant_tables
                     if held.get(name, ("",))[:2] != ("distributed", "organization_id")}
    assert undistributed == {}, "tenant tables not distributed by organization_id"
    assert len({held[name][2] for name in tenant_tables}) == 1, "not all colocated"
    assert held["organizations"][0] == "reference"
    for name in citus.LOCAL_TABLES:
        assert held.get(name, ("local",))[0] == "local", f"{name} left the coordinator"
    workers = await _rows(citus_database, "SELECT DISTINCT nodeport FROM citus_shards"
                                          " WHERE citus_table_type = 'distributed'")
    assert len(workers) >= 2, "an organisation's shards are not spread over the workers"


def test_migrating_again_distributes_nothing_new(citus_database: str) -> None:
    assert upgrade(citus_database) == []


def _add_goodwill_notes(connection: Connection) -> dict[str, str]:
    """What a migration that adds a tenant table does, then where Citus put it."""
    context = MigrationContext.configure(connection, opts={"target_metadata": Base.metadata})
    with Operations.context(context):
        citus.sequential(connection)
        citus.create_tenant_table(
            "goodwill_notes",
            sa.Column("organization_id", sa.Uuid, primary_key=True),
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("customer_id", sa.Uuid, nullable=False),
            sa.Column("note", sa.Text, nullable=False),
            sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                    ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["organization_id", "customer_id"],
                                    ["customers.organization_id", "customers.id"],
                                    ondelete="CASCADE"),
        )
    keys = {key["referred_table"] for key in sa.inspect(connection).get_foreign_keys(
        "goodwill_notes")}
    assert keys == {"organizations", "customers"}
    return citus.placement(connection) if citus.is_coordinator(connection) else {}


async def test_a_tenant_table_a_later_migration_adds_is_distributed_with_the_others(
    database_url: str, backend: str,
) -> None:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        held = await conn.run_sync(_add_goodwill_notes)
        await conn.rollback()
    await engine.dispose()

    if backend == "citus":
        assert held["goodwill_notes"] == held["customers"]
        assert held["goodwill_notes"].startswith("distributed:organization_id:")
    else:
        assert held == {}


def _distribute(connection: Connection) -> list[str]:
    return citus.distribute(connection)


async def test_distributing_leaves_sqlite_plain_postgresql_and_a_distributed_citus_as_they_are(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        placed = await conn.run_sync(_distribute)
        await conn.rollback()
    await engine.dispose()

    assert placed == []
