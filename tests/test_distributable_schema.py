"""Migration 0013 rewrites the keys of a database that holds data, in place, both ways: every
row is still there afterwards, as it was, and the keys are what the models say."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import inspect, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from amends.actor import Actor
from amends.db import Base, Database
from amends.demo import seed_catalogue
from amends.demo_history import seed_history
from amends.kit.secrets import random_token, tenant_token, token_tenant
from amends.migrate import alembic_config
from amends.models import Coupon
from tests.factories import make_coupon, make_org

SAMPLED = ("customers", "cases", "case_events", "coupons", "redemptions", "deliveries",
           "audit_events", "orders", "shipments", "approvals", "user_sessions")


async def _snapshot(db: Database) -> tuple[dict[str, int], dict[str, list[Any]]]:
    counts, samples = {}, {}
    async with db.engine.connect() as conn:
        present = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        for table in sorted(set(Base.metadata.tables) & present):
            counts[table] = (await conn.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar()
        for table in SAMPLED:
            rows = await conn.execute(text(f'SELECT * FROM "{table}" ORDER BY id LIMIT 25'))
            samples[table] = [tuple(row) for row in rows]
    return counts, samples


async def _keys(conn: AsyncConnection, table: str) -> tuple[list[str], list[list[str]]]:
    def read(sync: Any) -> tuple[list[str], list[list[str]]]:
        inspector = inspect(sync)
        return (inspector.get_pk_constraint(table)["constrained_columns"],
                sorted(fk["constrained_columns"] for fk in inspector.get_foreign_keys(table)))
    return await conn.run_sync(read)


@pytest.mark.not_on_citus("it downgrades below 0013, where tables cannot stay distributed")
async def test_the_keys_are_rewritten_in_place_both_ways_and_no_row_is_lost(
        db: Database, database_url: str) -> None:
    tenant = await make_org(db)
    async with db.transaction() as session:
        await seed_catalogue(session, Actor.system(tenant.id, "tests"))
    await seed_history(db, organization_id=tenant.id, days=20, cases=60, seed=5)
    config = alembic_config(database_url)
    await db.engine.dispose()
    # The rows as 0013 left them, and the same rows after going down to 0012 and back.
    await asyncio.to_thread(command.downgrade, config, "0013")
    before = await _snapshot(db)
    assert before[0]["coupons"] > 0
    assert before[0]["redemptions"] > 0

    await db.engine.dispose()
    await asyncio.to_thread(command.downgrade, config, "0012")
    async with db.engine.connect() as conn:
        assert await _keys(conn, "coupons") == (
            ["id"], [["customer_id"], ["incentive_id"], ["organization_id"]])
    assert await _snapshot(db) == before

    await db.engine.dispose()
    await asyncio.to_thread(command.upgrade, config, "0013")
    async with db.engine.connect() as conn:
        assert await _keys(conn, "coupons") == (
            ["organization_id", "id"],
            [["organization_id"], ["organization_id", "customer_id"],
             ["organization_id", "incentive_id"]])
        assert (await _keys(conn, "redemptions"))[0] == ["organization_id", "id"]
    assert await _snapshot(db) == before
    await db.engine.dispose()
    await asyncio.to_thread(command.upgrade, config, "head")


async def test_a_coupon_page_link_names_its_organisation_and_older_links_still_open(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    coupon = await make_coupon(db, tenant)
    assert token_tenant(coupon.page_token) == tenant.id
    assert (await client.get(f"/c/{coupon.page_token}")).status_code == 200
    # A link sent before tokens carried their organisation (32 random characters).
    older = random_token(24)
    async with db.transaction() as session:
        await session.execute(update(Coupon).where(
            Coupon.organization_id == tenant.id, Coupon.id == coupon.id).values(page_token=older))
    page = await client.get(f"/c/{older}")
    assert page.status_code == 200
    assert coupon.code[:5] in page.text.replace("-", "")
    # Another organisation's prefix in front of a real token finds nothing.
    other = await make_org(db)
    forged = tenant_token(other.id)[:22] + coupon.page_token[22:]
    assert (await client.get(f"/c/{forged}")).status_code == 404
