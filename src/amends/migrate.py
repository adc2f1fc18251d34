"""Alembic, driven from code: `amends migrate`, the test suite and `/readyz` use this."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from amends import citus

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def upgrade(database_url: str, revision: str = "head") -> list[str]:
    """Apply migrations (blocking; runs its own event loop) and, on a Citus coordinator,
    distribute the tables that are not distributed yet. Returns what was distributed, one
    line per table (nothing on SQLite or plain PostgreSQL).

    On PostgreSQL every migration runs in one transaction opened here; on Citus that
    transaction is in sequential shard-modify mode from its first statement (migrations that
    alter distributed tables need it) and ends with `citus.distribute`, so a table a
    migration adds is distributed before anyone can write to it.
    """
    config = alembic_config(database_url)
    if not database_url.startswith("postgresql"):
        command.upgrade(config, revision)
        return []
    return asyncio.run(_upgrade_postgresql(config, database_url, revision))


async def _upgrade_postgresql(config: Config, database_url: str, revision: str) -> list[str]:
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(_upgrade_in_transaction, config, revision)
    finally:
        await engine.dispose()


def _upgrade_in_transaction(connection: Connection, config: Config, revision: str) -> list[str]:
    on_citus = citus.is_coordinator(connection)
    if on_citus:
        citus.sequential(connection)
    config.attributes["connection"] = connection  # env.py runs on it, in this transaction
    command.upgrade(config, revision)
    return citus.distribute(connection) if on_citus else []


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception:
            return None
