"""SQLite's tills commit their redeems in groups: every redeem of a group holds or fails on its
own, and a burst on one code still redeems it once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.actor import Actor
from amends.config import Settings
from amends.db import Database
from amends.kit.clock import utcnow
from amends.models import AuditEvent, Coupon, Redemption, RollupChange
from amends.redemptions import fastpath
from amends.redemptions.schemas import RedeemRequest
from amends.redemptions.service import order_of, statement_values
from amends.redemptions.sqlite import Writer
from tests.factories import bearer, make_api_key, make_coupon, make_customer, make_org

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, embedded_worker=False, log_json=False,
                    api_key_cache_seconds=5, code_failures_per_minute=1_000_000,
                    _env_file=None)  # type: ignore[call-arg]


def _values(actor: Actor, code: str, order_id: str) -> dict[str, Any]:
    order = RedeemRequest(code=code, customer_id="C-1", order_id=order_id, order_amount=5000,
                          channel="in_store")
    return statement_values(actor, order_of(order), utcnow(), outbox=fastpath.Outbox())


async def test_a_redeem_that_fails_in_a_group_undoes_only_itself(db: Database) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    coupons = [await make_coupon(db, tenant, customer=customer, value=1000, case_ref=f"K-{n}")
               for n in range(3)]
    actor = Actor.system(tenant.id, "till")
    values = [_values(actor, coupon.code, f"O-{n}") for n, coupon in enumerate(coupons)]
    # The middle one reuses the first one's redemption id: its INSERT fails on the key.
    values[1]["redemption_id"] = values[0]["redemption_id"]
    assert db.sqlite_write_turn is not None
    path = db.engine.url.database
    assert path
    writer = Writer(path, synchronous="FULL", busy_timeout_ms=5000,
                    write_turn=db.sqlite_write_turn)
    try:
        results = await asyncio.gather(*(writer.redeem(v, fastpath.Outbox()) for v in values),
                                       return_exceptions=True)
    finally:
        await writer.close()
    assert isinstance(results[1], Exception)
    assert [r["coupon_id"] for r in (results[0], results[2])  # type: ignore[index]
            ] == [coupons[0].id, coupons[2].id]
    async with db.transaction(write=False) as session:
        statuses = dict((await session.execute(
            select(Coupon.id, Coupon.status).where(Coupon.organization_id == tenant.id))).all())
        redeemed = set((await session.scalars(select(Redemption.coupon_id).where(
            Redemption.organization_id == tenant.id))).all())
        audited = await session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.organization_id == tenant.id, AuditEvent.action == "coupon.redeemed"))
        used = await session.scalar(select(func.count()).select_from(RollupChange).where(
            RollupChange.organization_id == tenant.id, RollupChange.rollup == "gesture_deltas",
            RollupChange.redeemed == 1, RollupChange.redeemed_value == 1000))
        days = await session.scalar(select(func.count()).select_from(RollupChange).where(
            RollupChange.organization_id == tenant.id, RollupChange.rollup == "redemptions"))
    assert statuses == {coupons[0].id: "redeemed", coupons[1].id: "active",
                        coupons[2].id: "redeemed"}
    assert redeemed == {coupons[0].id, coupons[2].id}
    assert audited == 2
    assert (used, days) == (2, 2)  # the gesture's use and the day, for each of the two


async def test_a_burst_of_tills_commits_in_groups_and_redeems_each_code_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-1")
    coupons = [await make_coupon(db, tenant, customer=customer, value=1000, case_ref=f"K-{n}")
               for n in range(20)]

    async def redeem(code: str, n: int) -> httpx.Response:
        return await client.post("/v1/redemptions", headers=till, json={
            "code": code, "customer_id": "C-1", "order_id": f"O-{n}", "order_amount": 4000})

    # The first request verifies the key; after it the tills take the group writer.
    assert (await redeem(coupons[0].code, 0)).status_code == 201
    # Each remaining code twice, all at once.
    answers = await asyncio.gather(*(redeem(coupon.code, n) for n, coupon in
                                     enumerate(coupons[1:] * 2, start=1)))
    by_code: dict[str, list[int]] = {}
    for coupon, answer in zip(coupons[1:] * 2, answers, strict=True):
        by_code.setdefault(coupon.code, []).append(answer.status_code)
    assert all(sorted(codes) == [201, 409] for codes in by_code.values()), by_code
    served = {answer.headers.get("x-served-by") for answer in answers
              if answer.status_code == 201}
    assert served == {"group-commit"}
    async with db.transaction(write=False) as session:
        count = await session.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.organization_id == tenant.id))
    assert count == 20
