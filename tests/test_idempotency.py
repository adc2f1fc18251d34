from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.kit.clock import clock
from amends.models import ApiKey, AuditEvent
from tests.factories import bearer, make_org


async def _count_keys(db: Database, name: str) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.name == name)) or 0)


async def test_the_same_key_and_body_replays_the_first_response(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    headers = {**bearer(tenant.admin_token), "Idempotency-Key": "create-till-1"}
    body = {"name": "Till 1", "scopes": ["redemptions:write"]}
    first = await client.post("/v1/api-keys", json=body, headers=headers)
    second = await client.post("/v1/api-keys", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await _count_keys(db, "Till 1") == 1


async def test_the_same_key_with_another_body_is_409(client: httpx.AsyncClient,
                                                     db: Database) -> None:
    tenant = await make_org(db)
    headers = {**bearer(tenant.admin_token), "Idempotency-Key": "k1"}
    await client.post("/v1/api-keys", json={"name": "A", "scopes": ["admin"]}, headers=headers)
    response = await client.post("/v1/api-keys", json={"name": "B", "scopes": ["admin"]},
                                 headers=headers)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert await _count_keys(db, "B") == 0


async def test_a_failed_request_does_not_burn_the_key(client: httpx.AsyncClient,
                                                      db: Database) -> None:
    tenant = await make_org(db)
    headers = {**bearer(tenant.admin_token), "Idempotency-Key": "k2"}
    bad = await client.post("/v1/api-keys", json={"name": "A", "scopes": ["root"]},
                            headers=headers)
    assert bad.status_code == 422
    good = await client.post("/v1/api-keys", json={"name": "A", "scopes": ["admin"]},
                             headers=headers)
    assert good.status_code == 201


async def test_keys_expire_after_24_hours(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    headers = {**bearer(tenant.admin_token), "Idempotency-Key": "daily"}
    body = {"name": "Nightly", "scopes": ["reports:read"]}
    await client.post("/v1/api-keys", json=body, headers=headers)
    from datetime import timedelta

    clock.advance(timedelta(hours=24, seconds=1))
    again = await client.post("/v1/api-keys", json=body, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await _count_keys(db, "Nightly") == 2


async def test_keys_belong_to_the_credential_that_sent_them(
    client: httpx.AsyncClient, db: Database
) -> None:
    ours, theirs = await make_org(db), await make_org(db)
    body = {"name": "Same", "scopes": ["admin"]}
    a = await client.post("/v1/api-keys", json=body,
                          headers={**bearer(ours.admin_token), "Idempotency-Key": "shared"})
    b = await client.post("/v1/api-keys", json=body,
                          headers={**bearer(theirs.admin_token), "Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_twenty_concurrent_duplicates_run_the_handler_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    headers = {**bearer(tenant.admin_token), "Idempotency-Key": "burst"}
    body = {"name": "Burst", "scopes": ["coupons:issue"]}
    responses = await asyncio.gather(
        *(client.post("/v1/api-keys", json=body, headers=headers) for _ in range(20))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert created, "at least the first request succeeds"
    assert len({r.json()["token"] for r in created}) == 1
    assert await _count_keys(db, "Burst") == 1
    async with db.transaction(write=False) as session:
        audited = await session.scalar(
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.action == "api_key.created", AuditEvent.after["name"].as_string()
                   == "Burst"))
    assert audited == 1
