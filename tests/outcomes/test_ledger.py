"""The cost ledger against hand-computed figures: issue, redeem (a gift card partly), void,
expire; every row balances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from amends.actor import Actor
from amends.db import Database
from amends.kit.clock import clock
from amends.redemptions import service as redemptions
from tests.factories import bearer, make_api_key, make_coupon, make_customer, make_org


async def test_issue_redeem_partially_void_and_expire_balance_to_the_hand_computed_ledger(
    client: httpx.AsyncClient, db: Database
) -> None:
    clock.freeze(datetime(2026, 10, 1, 9, tzinfo=UTC))
    tenant = await make_org(db)
    till = Actor.system(tenant.id, "till")
    ann = await make_customer(db, tenant, external_id="A")
    bob = await make_customer(db, tenant, external_id="B")
    cat = await make_customer(db, tenant, external_id="C")
    dan = await make_customer(db, tenant, external_id="D")
    card = await make_coupon(db, tenant, customer=ann, kind="gift_card", value=5000,
                             validity_days=365)
    ten = await make_coupon(db, tenant, customer=bob, value=1000, validity_days=30)
    voided = await make_coupon(db, tenant, customer=cat, value=800, validity_days=30)
    await make_coupon(db, tenant, customer=dan, value=1500, validity_days=10)  # lapses
    async with db.transaction() as session:
        # Ann spends 18.00 of her 50.00 card; Bob's 10 off is used on a 6.00 order (6.00 off).
        await redemptions.redeem(session, till, redemptions.Order(
            code=card.code, order_amount=1800, customer_external_id="A", order_id="o1"))
        await redemptions.redeem(session, till, redemptions.Order(
            code=ten.code, order_amount=600, customer_external_id="B", order_id="o2"))
        used = await redemptions.redeem(session, till, redemptions.Order(
            code=voided.code, order_amount=3000, customer_external_id="C", order_id="o3"))
    async with db.transaction() as session:
        await redemptions.void(session, till, redemption_id=used.id, reason="refund")
    clock.advance(timedelta(days=11))  # Dan's gesture lapses unused

    reader = bearer(await make_api_key(db, tenant, scopes=["reports:read", "reports:refresh"]))
    assert (await client.post("/v1/reports/refresh", headers=reader)).status_code == 200
    [month] = (await client.get("/v1/reports/ledger", headers=reader)).json()
    assert month == {
        "key": "2026-10", "gestures": 4, "issued": 5000 + 1000 + 800 + 1500,
        "redeemed": 1800 + 600, "variance": 1000 - 600, "breakage": 1500, "reversed": 0,
        "outstanding": (5000 - 1800) + 800, "voided": 800, "balanced": True}

    async with db.transaction() as session:
        from amends.coupons import service as coupons

        await coupons.revoke_coupon(session, till, coupon_id=voided.id, reason="fraud")
    await client.post("/v1/reports/refresh", headers=reader)
    [after] = (await client.get("/v1/reports/ledger", headers=reader)).json()
    assert (after["reversed"], after["outstanding"], after["balanced"]) == (800, 3200, True)
    clock.advance(timedelta(days=400))  # the card expires with 32.00 unspent
    await client.post("/v1/reports/refresh", headers=reader)
    [late] = (await client.get("/v1/reports/ledger", headers=reader)).json()
    assert (late["breakage"], late["outstanding"], late["balanced"]) == (1500 + 3200, 0, True)
    by_agent = (await client.get("/v1/reports/ledger", headers=reader,
                                 params={"by": "agent", "format": "csv"})).text
    assert by_agent.splitlines()[0].startswith("key,gestures,issued,redeemed")
