from __future__ import annotations

import httpx
from sqlalchemy import select

from amends.db import Database
from amends.kit import codes
from amends.models import AuditEvent
from tests.factories import bearer, make_api_key, make_coupon, make_org


async def test_guessing_codes_is_stopped_with_429_and_audited(client: httpx.AsyncClient,
                                                              db: Database) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    real = await make_coupon(db, tenant)
    for _ in range(30):
        miss = await client.post("/v1/redemptions/validate", headers=till,
                                 json={"code": codes.generate(), "order_amount": 100})
        assert miss.status_code == 404
    blocked = await client.post("/v1/redemptions/validate", headers=till,
                                json={"code": real.code, "order_amount": 100})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert 0 < int(blocked.headers["retry-after"]) <= 60
    async with db.transaction(write=False) as session:
        events = (await session.scalars(select(AuditEvent).where(
            AuditEvent.action == "codes.guessing_blocked"))).all()
    assert len(events) >= 1
    # A different credential from the same address is blocked too (per-address limit).
    other = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    also = await client.post("/v1/redemptions/validate", headers=other,
                             json={"code": real.code, "order_amount": 100})
    assert also.status_code == 429


async def test_successful_checks_do_not_count_towards_the_limit(client: httpx.AsyncClient,
                                                                db: Database) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    coupon = await make_coupon(db, tenant)
    for _ in range(40):
        ok = await client.post("/v1/redemptions/validate", headers=till,
                               json={"code": coupon.code, "order_amount": 100,
                                     "customer_id": coupon.customer_external_id})
        assert ok.status_code == 200
