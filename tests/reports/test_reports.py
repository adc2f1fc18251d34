"""Report figures against hand-computed values on a fixed data set."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx

from amends.actor import Actor
from amends.db import Database
from amends.kit.clock import clock
from amends.redemptions import service as redemptions
from amends.roles import Role
from tests.factories import (
    bearer,
    make_api_key,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


async def test_cost_redemption_and_speed_figures_match_the_hand_computed_ones(
    client: httpx.AsyncClient, db: Database
) -> None:
    clock.freeze(T0)
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    ten = await make_incentive(db, tenant, value=1000, name="10 off")
    card = await make_incentive(db, tenant, kind="gift_card", value=2500, name="Card 25")
    ann = await make_user(db, tenant, role=Role.SUPERVISOR, email="ann@shop.example")
    bob = await make_user(db, tenant, role=Role.SUPERVISOR, email="bob@shop.example")
    as_ann, as_bob = await staff_headers(db, ann), await staff_headers(db, bob)
    plan = [  # (who, customer, reason, channel, incentive)
        (as_ann, "C-1", "late_delivery", "in_store", ten),
        (as_ann, "C-2", "late_delivery", "in_store", card),
        (as_bob, "C-3", "damaged_item", "in_store", ten),
        (as_bob, "C-4", "late_delivery", "phone", ten),
    ]
    coupons = []
    for n, (who, customer, reason, channel, incentive) in enumerate(plan):
        await make_customer(db, tenant, external_id=customer, phone=f"+44770090000{n}")
        case = (await client.post("/v1/cases", headers=who, json={
            "customer_id": customer, "reason": reason, "severity": 2,
            "channel": channel})).json()
        issued = await client.post("/v1/coupons", headers=who, json={
            "case_id": case["id"], "incentive_id": str(incentive.id), "deliver": False})
        assert issued.status_code == 201, issued.text
        coupons.append((issued.json(), case))
        clock.advance(timedelta(hours=1))
    till = Actor.system(tenant.id, "till")
    async with db.transaction() as session:
        # C-1 uses 10 off on a 40.00 order; C-2 spends 18.00 of the card.
        await redemptions.redeem(session, till, redemptions.Order(
            code=coupons[0][0]["code"], order_amount=4000, customer_external_id="C-1",
            order_id="O-1"))
        await redemptions.redeem(session, till, redemptions.Order(
            code=coupons[1][0]["code"], order_amount=1800, customer_external_id="C-2",
            order_id="O-2"))
    # Two cases fixed: after 6 h and after 3 h (opened at T0 and T0 + 1 h).
    clock.freeze(T0 + timedelta(hours=6))
    for _, case in coupons[:2]:
        await client.post(f"/v1/cases/{case['id']}/transitions", headers=admin, json={
            "to": "fixed", "skip_reason": "one call"})
    events = bearer(await make_api_key(db, tenant, scopes=["events:write"]))
    await client.post("/v1/events", headers=events, json={
        "id": "p1", "type": "purchase.completed", "occurred_at": "2026-11-10T10:00:00Z",
        "data": {"order_id": "N-1", "customer_id": "C-1", "amount": 9000, "currency": "EUR"}})

    reader = bearer(await make_api_key(db, tenant, scopes=["reports:read"]))
    summary = (await client.get("/v1/reports/summary", headers=reader)).json()
    assert summary["gestures_issued"] == 4
    assert summary["gestures_redeemed"] == 2
    assert summary["redemption_rate"] == 0.5
    assert summary["face_value"] == 1000 + 2500 + 1000 + 1000
    assert summary["redeemed_value"] == 1000 + 1800
    assert summary["cases_opened"] == 4
    assert summary["cases_fixed"] == 2
    assert summary["average_hours_to_fix"] == 5.5  # (6 + 5) / 2
    assert summary["customers_bought_again"] == 1
    assert summary["customers_not_yet_back"] == 1

    by_reason = (await client.get("/v1/reports/gestures", headers=reader,
                                  params={"by": "reason"})).json()
    assert by_reason == [
        {"key": "damaged_item", "issued": 1, "redeemed": 0, "redemption_rate": 0.0,
         "face_value": 1000, "redeemed_value": 0},
        {"key": "late_delivery", "issued": 3, "redeemed": 2, "redemption_rate": 0.6667,
         "face_value": 4500, "redeemed_value": 2800},
    ]
    by_agent = (await client.get("/v1/reports/gestures", headers=reader,
                                 params={"by": "agent"})).json()
    assert [(r["issued"], r["face_value"]) for r in by_agent] == [(2, 3500), (2, 2000)]
    filtered = (await client.get("/v1/reports/gestures", headers=reader,
                                 params={"by": "channel", "reason": "late_delivery"})).json()
    assert [(r["key"], r["issued"]) for r in filtered] == [("in_store", 2), ("phone", 1)]
    download = await client.get("/v1/reports/gestures", headers=reader,
                                params={"by": "reason", "format": "csv"})
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["key"], r["issued"], r["redeemed_value"]) for r in rows] == [
        ("damaged_item", "1", "0"), ("late_delivery", "3", "2800")]
    other = await make_org(db)
    empty = await client.get("/v1/reports/summary",
                             headers=bearer(await make_api_key(db, other,
                                                               scopes=["reports:read"])))
    assert empty.json()["gestures_issued"] == 0
    till_key = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    assert (await client.get("/v1/reports/summary", headers=till_key)).status_code == 403
