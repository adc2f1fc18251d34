"""A periodic job over every organisation runs each organisation's part on its own."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, text

from amends.actor import Actor
from amends.audit import service as audit
from amends.db import Database
from amends.jobs import periodic
from amends.models import AuditEvent
from tests.factories import bearer, make_org


async def test_a_database_error_in_one_organisations_part_keeps_the_others_work(
    client: httpx.AsyncClient, db: Database
) -> None:
    broken, healthy = await make_org(db), await make_org(db)

    async def fails_in_the_database() -> None:
        # On PostgreSQL this aborts the transaction unless the part has its own savepoint.
        await session.execute(text("SELECT * FROM no_such_table"))

    async def writes() -> str:
        await audit.record(session, Actor.system(healthy.id, "test"), action="test.done",
                           object_type="test")
        return "done"

    async with db.transaction() as session, \
            periodic.each_organization(session, "outcomes.rollup") as parts:
        assert await parts.run(broken.id, fails_in_the_database) is None
        assert await parts.run(healthy.id, writes) == "done"

    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.organization_id == healthy.id, AuditEvent.action == "test.done")) == 1
    [failure] = (await client.get("/v1/jobs", headers=bearer(broken.admin_token))
                 ).json()["items"]
    assert failure["kind"] == "outcomes.rollup"
    assert "no_such_table" in failure["last_error"]
    assert "[SQL:" not in failure["last_error"]  # one line, not the driver's statement dump
    assert (await client.get("/v1/jobs", headers=bearer(healthy.admin_token))
            ).json()["items"] == []
