"""The schema distributed by organisation on Citus; nothing here acts on plain PostgreSQL or SQLite.

On a Citus coordinator `amends migrate` applies the migrations and then `distribute`s what is
not distributed yet, as the models say (`layout`):

- `organizations` becomes a reference table: a copy on every node, so every shard can check
  its key to it and join it locally.
- Every tenant table (one with an `organization_id` column, except the local ones) is
  distributed by `organization_id` and colocated with the others: an organisation's rows of
  every table live on one shard, and a statement that names the organisation runs there.
- The local tables stay on the coordinator: `jobs` and `idempotency_keys` hold rows of no
  organisation (periodic jobs, system callers), `alembic_version` is Alembic's. Those with a
  key to `organizations` become Citus local tables, so that key is still checked.

A migration that adds a tenant table creates it with `create_tenant_table`; one that alters
distributed tables calls `sequential` first (`amends migrate` already runs every migration in
sequential mode; the call keeps a migration right when it is run by `alembic` directly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKeyConstraint, MetaData, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.schema import SchemaItem

DISTRIBUTION_COLUMN = "organization_id"
REFERENCE_TABLES = frozenset({"organizations"})
LOCAL_TABLES = frozenset({"jobs", "idempotency_keys", "alembic_version"})


@dataclass(frozen=True)
class Layout:
    """Where each table of the models goes on Citus; `distributed` lists parents before the
    tables whose composite keys reference them."""

    reference: tuple[str, ...]
    distributed: tuple[str, ...]
    local: tuple[str, ...]


def layout(metadata: MetaData | None = None) -> Layout:
    """The Citus layout of the models (or of `metadata`): the rule lives here, so a table a
    later migration adds is placed like the others without being listed anywhere."""
    if metadata is None:
        import amends.models  # noqa: F401  (registers every table)
        from amends.db import Base

        metadata = Base.metadata
    reference: list[str] = []
    distributed: list[str] = []
    local: list[str] = []
    for table in metadata.sorted_tables:  # a table after every table its keys reference
        if table.name in REFERENCE_TABLES:
            reference.append(table.name)
        elif DISTRIBUTION_COLUMN in table.c and table.name not in LOCAL_TABLES:
            distributed.append(table.name)
        else:
            local.append(table.name)
    return Layout(tuple(reference), tuple(distributed), tuple(local))


def is_coordinator(connection: Connection) -> bool:
    """Whether `connection` is to a Citus coordinator (the `citus` extension is installed and
    this node is not a worker). A worker is refused: the schema is managed from the
    coordinator only."""
    if connection.dialect.name != "postgresql":
        return False
    installed = connection.execute(
        text("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')")).scalar()
    if not installed:
        return False
    group = connection.execute(text("SELECT groupid FROM pg_dist_local_group")).scalar()
    if group != 0:
        raise RuntimeError("this database is on a Citus worker node; run the migrations "
                           "against the coordinator")
    return True


def sequential(connection: Connection) -> None:
    """Put the rest of the transaction in Citus' sequential shard-modify mode (on a Citus
    coordinator only).

    Citus runs a statement on the shards of a distributed table over several connections at
    once; a later statement of the same transaction that touches a table linked to it by a
    foreign key (a reference table, a colocated table) must then see those changes, which it
    cannot across connections, and Citus refuses it. One connection per node avoids that.
    Call it before the first statement on a distributed table: Citus refuses the switch after
    a parallel one.
    """
    if is_coordinator(connection):
        connection.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))


def placement(connection: Connection) -> dict[str, str]:
    """How Citus holds each table of the current schema that it knows of: "reference",
    "distributed:<column>:<colocation id>", or "local" (a Citus local table)."""
    rows = connection.execute(text(
        "SELECT c.relname, p.partmethod::text, p.repmodel::text, p.colocationid,"
        " column_to_column_name(p.logicalrelid, p.partkey)"
        " FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid"
        " WHERE c.relnamespace = current_schema()::regnamespace"))
    held: dict[str, str] = {}
    for name, method, model, colocation, column in rows:
        if method == "h":
            held[name] = f"distributed:{column}:{colocation}"
        elif model == "t":
            held[name] = "reference"
        else:
            held[name] = "local"
    return held


def distribute(connection: Connection, metadata: MetaData | None = None) -> list[str]:
    """On a Citus coordinator, place every table of `layout(metadata)` that exists and is not
    placed yet; returns one line per table placed (none when everything already is, or when
    this is not Citus). Runs inside the caller's transaction; call `sequential` before it if
    that transaction touched distributed tables.

    Order matters: `organizations` becomes a reference table first (a distributed table may
    only reference a reference table or a colocated one), while the tables that reference it
    are left plain (Citus would otherwise turn the whole graph of keys into Citus local
    tables, which then cannot be distributed one by one); then the tenant tables, parents
    first, each colocated with the first; then the local tables with a key to
    `organizations` become Citus local tables. Each table's rows are copied to its shards,
    and the copy left on the coordinator is emptied.
    """
    if not is_coordinator(connection):
        return []
    plan = layout(metadata)
    existing = set(connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars())
    held = placement(connection)
    placed: list[str] = []
    connection.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
    connection.execute(text("SET LOCAL citus.enable_local_reference_table_foreign_keys TO off"))
    for name in plan.reference:
        if name in existing and held.get(name) != "reference":
            connection.execute(text("SELECT create_reference_table(:t)"), {"t": name})
            placed.append(f"{name}: reference table")
    anchor = next((name for name in plan.distributed
                   if held.get(name, "").startswith("distributed:")), None)
    for name in plan.distributed:
        if name in existing and not held.get(name, "").startswith("distributed:"):
            _distribute_table(connection, name, colocate_with=anchor)
            placed.append(f"{name}: distributed by {DISTRIBUTION_COLUMN}, colocated with "
                          f"{anchor or 'itself'}")
            anchor = anchor or name
    connection.execute(text("SET LOCAL citus.enable_local_reference_table_foreign_keys "
                            "TO DEFAULT"))
    for name in plan.local:
        if name in existing and name not in held and _references(connection, name, held):
            connection.execute(text(
                "SELECT citus_add_local_table_to_metadata(:t, cascade_via_foreign_keys => true)"),
                {"t": name})
            placed.append(f"{name}: local to the coordinator")
    for line in placed:
        name, kind = line.split(": ", 1)
        if not kind.startswith("local"):
            connection.execute(text("SELECT truncate_local_data_after_distributing_table(:t)"),
                               {"t": name})
    return placed


def _distribute_table(connection: Connection, name: str, *, colocate_with: str | None) -> None:
    connection.execute(
        text("SELECT create_distributed_table(:t, :column, colocate_with => :anchor)"),
        {"t": name, "column": DISTRIBUTION_COLUMN, "anchor": colocate_with or "none"})


def _references(connection: Connection, name: str, held: dict[str, str]) -> bool:
    """Whether table `name` has a foreign key to a reference table."""
    parents = connection.execute(text(
        "SELECT confrelid::regclass::text FROM pg_constraint"
        " WHERE contype = 'f' AND conrelid = CAST(:t AS regclass)"), {"t": name}).scalars()
    return any(held.get(parent) == "reference" or parent in REFERENCE_TABLES
               for parent in parents)


def create_tenant_table(name: str, *items: SchemaItem, **kw: Any) -> None:
    """`op.create_table` for a migration that adds a tenant table: on a Citus coordinator whose
    tables are distributed already, the new table is distributed by organisation, colocated
    with the others, as soon as it exists. (While they are not, as when `amends migrate` runs
    every migration on a new database, it is created as is and `distribute` places it with
    the others at the end.)

    Citus refuses a foreign key from a table that is not distributed to a distributed one,
    so on Citus the table is created without its foreign keys, distributed, and then given
    them. Declare every key as a table-level `ForeignKeyConstraint` (an inline `ForeignKey`
    on a column is created with the table, and refused).
    """
    from alembic import op

    connection = op.get_bind()
    held = placement(connection) if is_coordinator(connection) else {}
    anchor = next((table for table in layout().distributed
                   if held.get(table, "").startswith("distributed:")), None)
    if anchor is None:
        op.create_table(name, *items, **kw)
        return
    if any(getattr(item, "foreign_keys", None) for item in items):
        raise ValueError(f"{name}: declare its foreign keys as ForeignKeyConstraint items")
    keys = [item for item in items if isinstance(item, ForeignKeyConstraint)]
    op.create_table(name, *(item for item in items
                            if not isinstance(item, ForeignKeyConstraint)), **kw)
    _distribute_table(connection, name, colocate_with=anchor)
    for key in keys:
        parent = key.elements[0].target_fullname.split(".")[0]
        op.create_foreign_key(
            key.name if isinstance(key.name, str) else None, name, parent,
            list(key.column_keys),
            [element.target_fullname.split(".")[1] for element in key.elements],
            ondelete=key.ondelete, onupdate=key.onupdate)


async def _execute(url: str, *statements: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def cluster_nodes(url: str) -> list[URL]:
    """The coordinator, then the workers, that the coordinator's database `url` lists in
    `pg_dist_node` (as URLs to their `postgres` maintenance database's server)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT groupid, nodename, nodeport FROM pg_dist_node"
                " WHERE noderole = 'primary' AND isactive ORDER BY groupid"))).all()
    finally:
        await engine.dispose()
    given = make_url(url)
    coordinator = next((given.set(host=host, port=port) for group, host, port in rows
                        if group == 0), given)
    workers = [given.set(host=host, port=port) for group, host, port in rows if group != 0]
    if not workers:
        raise RuntimeError(f"no Citus worker is listed in pg_dist_node of {given.database} "
                           f"on {given.host}:{given.port}")
    return [coordinator, *workers]


async def create_database(url: str, name: str, *, shard_count: int | None = None) -> str:
    """A new, empty database `name` on the cluster that the coordinator's database `url`
    knows: created on the coordinator and on every worker with the extension on each, the
    coordinator registered and the workers added. Returns its URL on the coordinator; run
    `amends migrate` (`migrate.upgrade`) against it to create and distribute the schema."""
    nodes = await cluster_nodes(url)
    for node in nodes:
        await _execute(node.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"')
        await _execute(node.set(database=name).render_as_string(hide_password=False),
                       "CREATE EXTENSION citus")
    coordinator = nodes[0]
    created = coordinator.set(database=name).render_as_string(hide_password=False)
    await _execute(created, *(
        [f'ALTER DATABASE "{name}" SET citus.shard_count = {int(shard_count)}']
        if shard_count else []),
        f"SELECT citus_set_coordinator_host('{coordinator.host}', {coordinator.port})",
        *(f"SELECT citus_add_node('{node.host}', {node.port})" for node in nodes[1:]))
    return created


async def drop_database(url: str, name: str) -> None:
    """Drop `name` from the coordinator and every worker of the cluster `url` knows."""
    for node in await cluster_nodes(url):
        await _execute(node.render_as_string(hide_password=False),
                       f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
