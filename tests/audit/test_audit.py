from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.audit import service as audit
from amends.db import Database
from amends.jobs import service as jobs
from amends.models import ApiKey, AuditEvent, Job
from amends.roles import Role
from tests.factories import bearer, make_api_key, make_org, make_user


class Boom(Exception):
    pass


async def test_a_rolled_back_change_leaves_no_audit_event_and_no_job(db: Database) -> None:
    tenant = await make_org(db)
    actor = Actor.system(tenant.id, "tests")

    async def change_then_fail() -> None:
        async with db.transaction() as session:
            await create_api_key(session, actor, name="Doomed", scopes=["admin"])
            await jobs.enqueue(session, "maintenance.purge", organization_id=tenant.id)
            raise Boom

    with pytest.raises(Boom):
        await change_then_fail()
    async with db.transaction(write=False) as session:
        assert await session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.name == "Doomed")) == 0
        assert await session.scalar(
            select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "api_key.created", AuditEvent.organization_id == tenant.id,
                AuditEvent.actor_label == "tests", AuditEvent.after["name"].as_string() == "Doomed",
            )) == 0
        assert await session.scalar(select(func.count()).select_from(Job)) == 0


async def _run_as(db: Database, as_role: str, statement: str) -> None:
    async with db.transaction() as session:
        if as_role:
            await session.execute(text(as_role))
        await session.execute(text(statement))


async def test_the_audit_trail_cannot_be_edited_or_deleted(db: Database, backend: str) -> None:
    tenant = await make_org(db)
    async with db.transaction() as session:
        event = await audit.record(session, Actor.system(tenant.id), action="x.done",
                                   object_type="x")
    if backend == "sqlite":
        refused, as_role = "append-only", ""
    else:
        # PostgreSQL holds the log append-only by privileges, which bind every role but a
        # superuser's (the tests connect as one): the statements run as the table's owner,
        # the role an installation runs Amends as.
        role = f"amends_owner_{uuid.uuid4().hex[:8]}"
        async with db.engine.begin() as conn:
            await conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
            await conn.execute(text(f"ALTER TABLE audit_events OWNER TO {role}"))
        refused, as_role = "permission denied", f"SET LOCAL ROLE {role}"
    try:
        for statement in ("UPDATE audit_events SET action = 'forged'",
                          "DELETE FROM audit_events"):
            with pytest.raises(DBAPIError, match=refused):
                await _run_as(db, as_role, statement)
    finally:
        if as_role:
            async with db.engine.begin() as conn:
                await conn.execute(text("ALTER TABLE audit_events OWNER TO CURRENT_USER"))
            # Apart: Citus changes a role only in a transaction that has not yet altered a
            # distributed table over several connections.
            async with db.engine.begin() as conn:
                await conn.execute(text(f"DROP ROLE {role}"))
    async with db.transaction(write=False) as session:
        assert (await session.get(AuditEvent, (event.organization_id, event.id))) is not None


async def test_auditors_page_through_their_own_organisations_events(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, other = await make_org(db), await make_org(db)
    for _ in range(5):
        await make_api_key(db, tenant, scopes=["reports:read"])
    await make_api_key(db, other, scopes=["reports:read"])
    auditor = await make_user(db, tenant, role=Role.AUDITOR, email="audit@example.com")
    assert auditor.role == "auditor"
    headers = bearer(tenant.admin_token)
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"action": "api_key.created", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/audit-events", params=params, headers=headers)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 6  # the admin key of the factory and five more; none of the other org
    ids = [e["id"] for e in seen]
    assert ids == sorted(ids, reverse=True)
    assert all(e["action"] == "api_key.created" for e in seen)


async def test_only_auditors_managers_and_admins_read_the_trail(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    reporting = await make_api_key(db, tenant, scopes=["reports:read"])
    response = await client.get("/v1/audit-events", headers=bearer(reporting))
    assert response.status_code == 403


async def test_a_bad_cursor_is_a_clear_error(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    response = await client.get("/v1/audit-events", params={"cursor": "!!"},
                                headers=bearer(tenant.admin_token))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


async def test_api_changes_carry_the_request_id(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    response = await client.post(
        "/v1/api-keys", json={"name": "Traced", "scopes": ["admin"]},
        headers={**bearer(tenant.admin_token), "X-Request-ID": "req-42"},
    )
    assert response.headers["x-request-id"] == "req-42"
    async with db.transaction(write=False) as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.request_id == "req-42"))
    assert event is not None
    assert event.actor_type == "api_key"
    assert event.after == {"name": "Traced", "scopes": ["admin"]}
