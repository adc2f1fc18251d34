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

    over_time = (await client.get("/v1/reports/over-time", headers=reader)).json()
    assert over_time == [{"day": "2026-11-02", "issued": 4, "redeemed": 2,
                          "face_value": 5500, "redeemed_value": 2800}]
    fix = (await client.get("/v1/reports/time-to-fix", headers=reader)).json()
    assert fix == [
        {"key": "damaged_item", "opened": 1, "fixed": 0, "average_hours": None,
         "longest_hours": None},
        {"key": "late_delivery", "opened": 3, "fixed": 2, "average_hours": 5.5,
         "longest_hours": 6.0},
    ]
    came_back = (await client.get("/v1/reports/came-back", headers=reader)).json()
    assert came_back == [{"key": "late_delivery", "fixed": 2, "bought_again": 1,
                          "not_yet_back": 1, "win_back_rate": 0.5}]
    causes = (await client.get("/v1/reports/root-causes", headers=reader)).json()
    assert causes == [
        {"key": "late_delivery", "this_week": 3, "last_week": 0, "change": 3},
        {"key": "damaged_item", "this_week": 1, "last_week": 0, "change": 1},
    ]
    a_fortnight_later = await client.get("/v1/reports/root-causes", headers=reader,
                                         params={"until": "2026-11-12T00:00:00Z"})
    assert [(r["key"], r["this_week"], r["last_week"]) for r in a_fortnight_later.json()] == [
        ("late_delivery", 0, 3), ("damaged_item", 0, 1)]

    # The manager's dashboard shows the same figures, and its CSV links are the report API's.
    page = await client.get("/dashboard", headers=as_ann, params={
        "since": "2026-11-01", "until": "2026-11-03", "by": "reason"})
    assert page.status_code == 200
    assert 'data-figure="gestures_issued">4<' in page.text
    assert 'data-figure="gestures_redeemed">2<' in page.text
    assert "€55.00" in page.text
    assert "€28.00" in page.text
    assert "<svg" in page.text
    link = "/v1/reports/gestures?since=2026-11-01&amp;until=2026-11-04T00%3A00%3A00%2B00%3A00"
    assert link in page.text
    narrowed = await client.get("/dashboard", headers=as_ann, params={
        "since": "2026-11-01", "until": "2026-11-03", "reason": "damaged_item"})
    assert 'data-figure="gestures_issued">1<' in narrowed.text
    agent = await make_user(db, tenant, role=Role.AGENT, email="al@shop.example")
    assert (await client.get("/dashboard", headers=await staff_headers(db, agent))
            ).status_code == 403
