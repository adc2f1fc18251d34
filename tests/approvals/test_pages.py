"""The supervisor's approvals queue and limits pages."""

from __future__ import annotations

import httpx

from amends.db import Database
from amends.roles import Role
from tests.factories import (
    make_customer,
    make_incentive,
    make_org,
    make_user,
    set_limit,
    staff_headers,
)


async def test_a_supervisor_sees_the_request_with_history_and_grants_it_in_one_click(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT,
                                                    email="al@shop.example"))
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    small = await make_incentive(db, tenant, value=1000, name="Ten off")
    big = await make_incentive(db, tenant, value=5000, name="Fifty off")
    await make_customer(db, tenant, external_id="C-9")
    await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-9", "incentive_id": str(small.id)})
    asked = await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-9", "incentive_id": str(big.id), "note": "Third late parcel"})
    approval = asked.json()

    empty_reason = await client.post(f"/approvals/{approval['id']}", headers=supervisor,
                                     data={"decision": "refuse", "reason": ""})
    assert empty_reason.status_code == 303
    assert "Say+why" in empty_reason.headers["location"]

    queue = await client.get("/approvals", headers=supervisor)
    assert queue.status_code == 200
    assert f'data-approval="{approval["id"]}"' in queue.text
    assert "Fifty off — €50.00" in queue.text
    assert "Third late parcel" in queue.text
    assert "Ten off" in queue.text  # the earlier gesture, in the customer's history
    assert "al@shop.example" in queue.text

    granted = await client.post(f"/approvals/{approval['id']}", headers=supervisor,
                                data={"decision": "grant", "reason": "Loyal customer"})
    assert granted.status_code == 303
    assert "Granted" in granted.headers["location"]
    after = (await client.get(f"/v1/approvals/{approval['id']}", headers=supervisor)).json()
    assert after["status"] == "granted"
    assert after["coupon_id"]
    page = await client.get("/approvals", headers=supervisor)
    assert f'data-approval="{approval["id"]}"' not in page.text
    assert "Loyal customer" in page.text
    twice = await client.post(f"/approvals/{approval['id']}", headers=supervisor,
                              data={"decision": "refuse", "reason": "changed my mind"})
    assert "granted+by" in twice.headers["location"]
    assert (await client.get("/approvals", headers=agent)).status_code == 403


async def test_limits_are_listed_and_set_from_the_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    saved = await client.post("/limits", headers=supervisor, data={
        "subject": "role:agent", "currency": "EUR", "max_gesture": "25",
        "daily_budget": "200.50", "monthly_budget": ""})
    assert saved.status_code == 303
    assert "Limits+saved" in saved.headers["location"]
    limits = (await client.get("/v1/authority-limits", headers=supervisor)).json()
    assert [(r["subject"], r["max_gesture"], r["daily_budget"], r["monthly_budget"])
            for r in limits] == [("role:agent", 2500, 20050, None)]
    page = await client.get("/limits", headers=supervisor)
    assert "Every agent" in page.text
    assert "25.00" in page.text
    assert "200.50" in page.text
    wrong = await client.post("/limits", headers=supervisor, data={
        "subject": "role:agent", "currency": "EUR", "max_gesture": "lots"})
    assert "Amounts+are+numbers" in wrong.headers["location"]
    limits = (await client.get("/v1/authority-limits", headers=supervisor)).json()
    assert limits[0]["max_gesture"] == 2500
