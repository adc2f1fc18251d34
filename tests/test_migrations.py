from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from amends.db import Base, Database
from amends.migrate import head_revision


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_apply_from_empty_and_match_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert diff == []
    assert set(Base.metadata.tables) <= tables
    assert head_revision() is not None


@pytest.mark.not_on_citus("below 0013 the tables cannot stay distributed; amends migrate only "
                           "goes up on Citus")
async def test_migrations_downgrade_to_empty_and_up_again(database_url: str) -> None:
    import asyncio

    from alembic import command

    from amends.migrate import alembic_config

    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(command.upgrade, config, "head")
