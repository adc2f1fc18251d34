from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.kit.clock import clock
from amends.models import Approval, Coupon
from amends.roles import Role
from tests.factories import (
    Tenant,
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    set_limit,
    staff_headers,
)


async def _team(db: Database) -> tuple[Tenant, dict[str, str], dict[str, str]]:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    return tenant, agent, supervisor


async def _count(db: Database, model: type) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_within_authority_issues_above_it_asks_and_a_grant_issues_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, agent, supervisor = await _team(db)
    small = await make_incentive(db, tenant, value=1500)
    big = await make_incentive(db, tenant, value=5000)
    await make_customer(db, tenant, external_id="C-1")
    await make_customer(db, tenant, external_id="C-2")
    issued = await client.post("/v1/coupons", headers=agent,
                               json={"customer_id": "C-1", "incentive_id": str(small.id)})
    assert issued.status_code == 201
    asked = await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-2", "incentive_id": str(big.id), "note": "Third late parcel"})
    assert asked.status_code == 202
    approval = asked.json()
    assert approval["status"] == "pending"
    assert approval["grounds"] == ["above_authority"]
    assert "20.00 EUR" in approval["explanation"]
    assert approval["history"]["customer"]["id"] == "C-2"
    queue = (await client.get("/v1/approvals", headers=supervisor)).json()["items"]
    assert [a["id"] for a in queue] == [approval["id"]]
    agent_grant = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=agent,
                                    json={"reason": "self-service"})
    assert agent_grant.status_code == 403
    granted = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=supervisor,
                                json={"reason": "Loyal customer"})
    assert granted.status_code == 200
    assert granted.json()["status"] == "granted"
    assert granted.json()["coupon_id"]
    again = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=supervisor,
                              json={"reason": "twice"})
    assert again.status_code == 409
    assert again.json()["code"] == "approval_already_decided"
    assert await _count(db, Coupon) == 2
    coupon = (await client.get(f"/v1/coupons/{granted.json()['coupon_id']}",
                               headers=agent)).json()
    assert coupon["value"] == 5000
    assert coupon["issued_by"].startswith("user")  # issued in the agent's name


async def test_fifty_concurrent_grants_make_one_coupon(client: httpx.AsyncClient,
                                                       db: Database) -> None:
    tenant, agent, _ = await _team(db)
    big = await make_incentive(db, tenant, value=5000)
    await make_customer(db, tenant, external_id="C-1")
    approval = (await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-1", "incentive_id": str(big.id)})).json()
    supervisors = [await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
                   for _ in range(2)]
    responses = await asyncio.gather(*(
        client.post(f"/v1/approvals/{approval['id']}/grant", headers=supervisors[n % 2],
                    json={"reason": "ok"}) for n in range(50)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1
    assert statuses.count(409) == 49
    assert await _count(db, Coupon) == 1


async def test_supervisors_cannot_approve_their_own_requests(client: httpx.AsyncClient,
                                                             db: Database) -> None:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:supervisor", max_gesture=1000)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    big = await make_incentive(db, tenant, value=5000)
    await make_customer(db, tenant, external_id="C-1")
    approval = (await client.post("/v1/coupons", headers=supervisor, json={
        "customer_id": "C-1", "incentive_id": str(big.id)})).json()
    own = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=supervisor,
                            json={"reason": "me"})
    assert own.status_code == 403
    assert own.json()["code"] == "cannot_approve_own_request"
    refused = await client.post(f"/v1/approvals/{approval['id']}/refuse",
                                headers=bearer(tenant.admin_token), json={"reason": "No"})
    assert refused.json()["status"] == "refused"
    assert await _count(db, Coupon) == 0


async def test_requests_expire(client: httpx.AsyncClient, db: Database) -> None:
    tenant, agent, supervisor = await _team(db)
    big = await make_incentive(db, tenant, value=5000)
    await make_customer(db, tenant, external_id="C-1")
    approval = (await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-1", "incentive_id": str(big.id)})).json()
    clock.advance(timedelta(hours=73))
    late = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=supervisor,
                             json={"reason": "sorry, late"})
    assert late.status_code == 409
    assert late.json()["code"] == "approval_expired"


async def test_a_second_gesture_within_the_window_needs_approval_and_after_it_does_not(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, agent, _ = await _team(db)
    first = await make_incentive(db, tenant, value=1000)
    second = await make_incentive(db, tenant, value=1200)
    await make_customer(db, tenant, external_id="C-1")
    ok = await client.post("/v1/coupons", headers=agent,
                           json={"customer_id": "C-1", "incentive_id": str(first.id)})
    assert ok.status_code == 201
    clock.advance(timedelta(days=29))
    asked = await client.post("/v1/coupons", headers=agent,
                              json={"customer_id": "C-1", "incentive_id": str(second.id)})
    assert asked.status_code == 202
    assert asked.json()["grounds"] == ["second_gesture"]
    clock.advance(timedelta(days=2))
    later = await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-1", "incentive_id": str(second.id), "case_reference": "later"})
    assert later.status_code == 201


async def test_twenty_concurrent_issues_never_overspend_the_daily_budget(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    user = await make_user(db, tenant, role=Role.AGENT)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000, daily_budget=10000)
    await set_limit(db, tenant, subject=f"user:{user.id}", daily_budget=5000)
    agent = await staff_headers(db, user)
    incentive = await make_incentive(db, tenant, value=1000)
    for n in range(20):
        await make_customer(db, tenant, external_id=f"C-{n}")
    responses = await asyncio.gather(*(
        client.post("/v1/coupons", headers=agent,
                    json={"customer_id": f"C-{n}", "incentive_id": str(incentive.id)})
        for n in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [202] * 15
    assert {r.json()["grounds"][0] for r in responses if r.status_code == 202} == {
        "beyond_daily_budget"}
    assert await _count(db, Coupon) == 5
    assert await _count(db, Approval) == 15
    clock.advance(timedelta(days=1))
    tomorrow = await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-19", "incentive_id": str(incentive.id), "case_reference": "next"})
    assert tomorrow.status_code in (201, 202)
    assert tomorrow.json().get("grounds", []) != ["beyond_daily_budget"]


async def test_supervisors_are_emailed_the_request_and_the_agent_the_decision(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    from amends.jobs.worker import Worker
    from tests.receivers import smtp_server

    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    agent_user = await make_user(db, tenant, role=Role.AGENT, email="agent@shop.example")
    boss = await make_user(db, tenant, role=Role.SUPERVISOR, email="boss@shop.example")
    agent, supervisor = await staff_headers(db, agent_user), await staff_headers(db, boss)
    big = await make_incentive(db, tenant, value=5000, name="Sorry 50")
    await make_customer(db, tenant, external_id="C-1")
    worker = Worker(db, settings)
    with smtp_server() as mail:
        await client.put("/v1/channels/email", headers=bearer(tenant.admin_token), json={
            "settings": {"host": mail.host, "port": mail.port, "security": "none",
                         "from_address": "amends@shop.example"}})
        approval = (await client.post("/v1/coupons", headers=agent, json={
            "customer_id": "C-1", "incentive_id": str(big.id),
            "note": "Third late parcel"})).json()
        await worker.run_until_idle()
        [asked] = mail.to("boss@shop.example")
        assert "Approval needed: Sorry 50" in str(asked["Subject"])
        assert "Third late parcel" in asked.get_body(("plain",)).get_content()
        assert mail.to("agent@shop.example") == []
        await client.post(f"/v1/approvals/{approval['id']}/refuse", headers=supervisor,
                          json={"reason": "Already compensated last week"})
        await worker.run_until_idle()
        [told] = mail.to("agent@shop.example")
        assert str(told["Subject"]) == "Your request was refused"
        assert "Already compensated" in told.get_body(("plain",)).get_content()
