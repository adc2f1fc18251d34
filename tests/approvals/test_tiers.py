"""Tiers of authority: an approver grants only within their own limit and budget; above them
the request goes up to the organisation's next tier, shows how it got there, and a request
waiting longer than the SLA is brought to the next tier's attention. Amends' own gestures
follow the automation budget and never become requests nobody asked for."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.approvals import service as approvals
from amends.db import Database
from amends.kit.clock import clock
from amends.models import Approval, Case, CaseEvent, Coupon, Customer, Job, User
from amends.recovery import service as recovery
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


async def _count(db: Database, model: type, *where: Any) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where))
                   or 0)


async def _person(db: Database, tenant: Tenant, role: Role) -> tuple[User, dict[str, str]]:
    user = await make_user(db, tenant, role=role)
    return user, await staff_headers(db, user)


async def _ask(client: httpx.AsyncClient, agent: dict[str, str], customer: str,
               incentive: str) -> dict[str, Any]:
    asked = await client.post("/v1/coupons", headers=agent, json={
        "customer_id": customer, "incentive_id": incentive})
    assert asked.status_code == 202, asked.text
    body: dict[str, Any] = asked.json()
    return body


async def test_a_supervisor_above_their_own_limit_cannot_grant_and_the_request_goes_up(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=500)
    _, agent = await _person(db, tenant, Role.AGENT)
    supervisor, as_supervisor = await _person(db, tenant, Role.SUPERVISOR)
    await set_limit(db, tenant, subject=f"user:{supervisor.id}", max_gesture=1000)
    _, as_manager = await _person(db, tenant, Role.MANAGER)
    gift = await make_incentive(db, tenant, kind="gift_card", value=2500, name="Gift card 25")
    await make_customer(db, tenant, external_id="C-1")
    approval = await _ask(client, agent, "C-1", str(gift.id))
    assert approval["tier"] == "supervisor"  # supervisors as a role may give it

    tried = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=as_supervisor,
                              json={"reason": "Loyal customer"})
    assert tried.status_code == 202, tried.text
    escalated = tried.json()
    assert escalated["status"] == "pending"
    assert escalated["coupon_id"] is None
    assert escalated["tier"] == "manager"
    assert [step["kind"] for step in escalated["chain"]] == ["routed", "escalated"]
    assert escalated["chain"][1]["by"] == supervisor.email
    assert "10.00 EUR" in escalated["chain"][1]["why"]
    assert await _count(db, Coupon) == 0

    again = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=as_supervisor,
                              json={"reason": "Still loyal"})
    assert again.status_code == 403
    assert again.json()["code"] == "approval_for_higher_tier"
    refuse = await client.post(f"/v1/approvals/{approval['id']}/refuse", headers=as_supervisor,
                               json={"reason": "No"})
    assert refuse.json()["code"] == "approval_for_higher_tier"

    granted = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=as_manager,
                                json={"reason": "Fine by me"})
    assert granted.status_code == 200, granted.text
    assert granted.json()["status"] == "granted"
    coupon = (await client.get(f"/v1/coupons/{granted.json()['coupon_id']}",
                               headers=as_manager)).json()
    assert coupon["value"] == 2500
    audit = (await client.get("/v1/audit-events", headers=bearer(tenant.admin_token),
                              params={"object_type": "approval"})).json()["items"]
    assert {"approval.requested", "approval.escalated", "approval.granted"} <= {
        e["action"] for e in audit}


async def test_a_request_starts_at_the_first_tier_whose_role_may_grant_it(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=500)
    await set_limit(db, tenant, subject="role:supervisor", max_gesture=2000)
    await set_limit(db, tenant, subject="role:manager", max_gesture=5000)
    _, agent = await _person(db, tenant, Role.AGENT)
    _, as_supervisor = await _person(db, tenant, Role.SUPERVISOR)
    small = await make_incentive(db, tenant, value=1500)
    big = await make_incentive(db, tenant, value=4000)
    huge = await make_incentive(db, tenant, value=9000)
    for n in (1, 2, 3):
        await make_customer(db, tenant, external_id=f"C-{n}")
    assert (await _ask(client, agent, "C-1", str(small.id)))["tier"] == "supervisor"
    to_manager = await _ask(client, agent, "C-2", str(big.id))
    assert to_manager["tier"] == "manager"
    assert "supervisor" in to_manager["chain"][0]["why"]
    assert (await _ask(client, agent, "C-3", str(huge.id)))["tier"] == "admin"
    queue = await client.get("/approvals", headers=as_supervisor)
    # The supervisor sees every request but may decide only the one at their tier.
    assert queue.text.count('name="decision" value="grant"') == 1
    assert queue.text.count("Decided by tier") == 2


async def test_the_approvers_own_budget_pays_for_what_they_grant(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=500)
    _, agent = await _person(db, tenant, Role.AGENT)
    supervisor, as_supervisor = await _person(db, tenant, Role.SUPERVISOR)
    await set_limit(db, tenant, subject=f"user:{supervisor.id}", daily_budget=4000)
    gesture = await make_incentive(db, tenant, value=2500)
    await make_customer(db, tenant, external_id="C-1")
    await make_customer(db, tenant, external_id="C-2")
    first = await _ask(client, agent, "C-1", str(gesture.id))
    second = await _ask(client, agent, "C-2", str(gesture.id))
    ok = await client.post(f"/v1/approvals/{first['id']}/grant", headers=as_supervisor,
                           json={"reason": "ok"})
    assert ok.status_code == 200
    over = await client.post(f"/v1/approvals/{second['id']}/grant", headers=as_supervisor,
                             json={"reason": "ok"})
    assert over.status_code == 202
    assert over.json()["tier"] == "manager"
    assert "budget for today" in over.json()["chain"][-1]["why"]
    assert await _count(db, Coupon) == 1


async def test_with_no_tier_above_an_approver_who_cannot_grant_is_refused_and_nothing_changes(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    patched = await client.patch("/v1/organization", headers=admin,
                                 json={"approval_tiers": ["supervisor", "manager"]})
    assert patched.status_code == 200, patched.text
    await set_limit(db, tenant, subject="role:agent", max_gesture=500)
    await set_limit(db, tenant, subject="role:manager", max_gesture=1000)
    _, agent = await _person(db, tenant, Role.AGENT)
    _, as_manager = await _person(db, tenant, Role.MANAGER)
    gesture = await make_incentive(db, tenant, value=3000)
    await make_customer(db, tenant, external_id="C-1")
    approval = await _ask(client, agent, "C-1", str(gesture.id))
    assert approval["tier"] == "supervisor"
    refused = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=as_manager,
                                json={"reason": "ok"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "beyond_every_tier"
    after = (await client.get(f"/v1/approvals/{approval['id']}", headers=as_manager)).json()
    assert (after["status"], after["tier"], len(after["chain"])) == ("pending", "supervisor", 1)
    assert await _count(db, Coupon) == 0


async def test_concurrent_grants_across_tiers_give_one_coupon(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=500)
    _, agent = await _person(db, tenant, Role.AGENT)
    low, as_low = await _person(db, tenant, Role.SUPERVISOR)
    await set_limit(db, tenant, subject=f"user:{low.id}", max_gesture=1000)
    _, as_supervisor = await _person(db, tenant, Role.SUPERVISOR)
    _, as_manager = await _person(db, tenant, Role.MANAGER)
    gesture = await make_incentive(db, tenant, value=2500)
    await make_customer(db, tenant, external_id="C-1")
    approval = await _ask(client, agent, "C-1", str(gesture.id))
    deciders = [as_low, as_supervisor, as_manager]
    responses = await asyncio.gather(*(
        client.post(f"/v1/approvals/{approval['id']}/grant", headers=deciders[n % 3],
                    json={"reason": f"grant {n}"}) for n in range(30)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, [r.text for r in responses]
    assert set(statuses) <= {200, 202, 403, 409}
    assert await _count(db, Coupon) == 1
    final = (await client.get(f"/v1/approvals/{approval['id']}", headers=as_manager)).json()
    assert final["status"] == "granted"


async def test_a_request_past_the_sla_is_brought_to_the_next_tiers_then_the_one_above(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await client.patch("/v1/organization", headers=admin, json={"approval_sla_minutes": 30})
    await set_limit(db, tenant, subject="role:agent", max_gesture=500)
    _, agent = await _person(db, tenant, Role.AGENT)
    supervisor = await make_user(db, tenant, role=Role.SUPERVISOR, email="sup@shop.example")
    manager = await make_user(db, tenant, role=Role.MANAGER, email="boss@shop.example")
    top = await make_user(db, tenant, role=Role.ADMIN, email="top@shop.example")
    gesture = await make_incentive(db, tenant, value=2500)
    await make_customer(db, tenant, external_id="C-1")
    approval = await _ask(client, agent, "C-1", str(gesture.id))

    async def notes_to(email: str) -> int:
        async with db.transaction(write=False) as session:
            jobs = (await session.scalars(select(Job).where(Job.kind == "staff.notify"))).all()
        return sum(1 for job in jobs if email in job.payload["to"])

    async def sweep() -> int:
        async with db.transaction() as session:
            return await approvals.notify_overdue(session)

    assert await notes_to(supervisor.email) == 1  # asked at once
    assert await notes_to(manager.email) == 0
    assert await sweep() == 0  # not yet overdue
    clock.advance(timedelta(minutes=31))
    assert await sweep() == 1
    assert await sweep() == 0  # told once per period
    assert await notes_to(manager.email) == 1
    assert await notes_to(top.email) == 0
    clock.advance(timedelta(minutes=30))
    assert await sweep() == 1
    assert await notes_to(top.email) == 1
    clock.advance(timedelta(minutes=60))
    assert await sweep() == 0  # nobody left above
    seen = (await client.get(f"/v1/approvals/{approval['id']}", headers=admin)).json()
    assert [(s["kind"], s["tier"]) for s in seen["chain"]] == [
        ("routed", "supervisor"), ("overdue", "manager"), ("overdue", "admin")]
    assert seen["tier"] == "supervisor"  # still the supervisors' to decide


async def test_a_second_gesture_is_named_as_such(client: httpx.AsyncClient,
                                                 db: Database) -> None:
    tenant = await make_org(db)
    _, agent = await _person(db, tenant, Role.AGENT)
    gesture = await make_incentive(db, tenant, value=500)
    other = await make_incentive(db, tenant, value=700)
    await make_customer(db, tenant, external_id="C-1")
    first = await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-1", "incentive_id": str(gesture.id)})
    assert first.status_code == 201
    second = await _ask(client, agent, "C-1", str(other.id))
    assert second["grounds"] == ["second_gesture"]
    assert second["explanation"].startswith(
        "A second gesture for this customer needs a supervisor")


async def test_amends_own_gestures_follow_the_automation_budget_and_the_thank_you_waits(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    surprise = await make_incentive(db, tenant, value=1000, name="Surprise")
    spent = await client.patch("/v1/organization", headers=admin, json={
        "surprise_incentive_id": str(surprise.id), "automation_daily_budget": 0})
    assert spent.status_code == 200, spent.text
    await make_customer(db, tenant, external_id="C-1")
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-1", "reason": "late_delivery", "severity": 2,
        "channel": "email"})).json()
    fixed = await client.post(f"/v1/cases/{case['id']}/transitions", headers=admin, json={
        "to": "fixed", "skip_reason": "fixed at once", "remedy": "Sent again"})
    assert fixed.status_code == 200, fixed.text

    async def thank() -> None:
        async with db.transaction() as session:
            customer = await session.scalar(select(Customer).where(
                Customer.organization_id == tenant.id, Customer.external_id == "C-1"))
            assert customer is not None
            await recovery.thank_returning_customer(session, customer)

    await thank()
    assert await _count(db, Approval) == 0  # nobody is asked to approve Amends' own gesture
    assert await _count(db, Coupon) == 0
    assert await _count(db, CaseEvent, CaseEvent.kind == "thanked") == 0
    assert await _count(db, CaseEvent, CaseEvent.kind == "thank_you_held") == 1
    assert await _count(db, Job, Job.kind == "recovery.thank_you") == 1
    async with db.transaction(write=False) as session:
        held = await session.get(Case, (tenant.id, uuid.UUID(case["id"])))
        assert held is not None
        assert held.thanked_at is None

    await client.patch("/v1/organization", headers=admin,
                       json={"automation_daily_budget": 5000})
    clock.advance(timedelta(days=1))
    await thank()
    assert await _count(db, Coupon) == 1
    thanked = await _count(db, CaseEvent, CaseEvent.kind == "thanked",
                           CaseEvent.summary.contains("surprise gesture"))
    assert thanked == 1
    assert await _count(db, Approval) == 0


async def test_tiers_are_validated_when_saved(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    for bad in (["manager", "supervisor"], [], ["supervisor", "supervisor"], ["agent"], None):
        answer = await client.patch("/v1/organization", headers=admin,
                                    json={"approval_tiers": bad})
        assert answer.status_code == 422, (bad, answer.text)
    for bad_sla in (0, 4, 10**6, "soon"):
        answer = await client.patch("/v1/organization", headers=admin,
                                    json={"approval_sla_minutes": bad_sla})
        assert answer.status_code == 422, (bad_sla, answer.text)
    saved = (await client.get("/v1/organization", headers=admin)).json()
    assert saved["approval_tiers"] == ["supervisor", "manager", "admin"]
    assert saved["approval_sla_minutes"] == 60
    ok = await client.patch("/v1/organization", headers=admin, json={
        "approval_tiers": ["manager"], "approval_sla_minutes": None})
    assert ok.status_code == 200
    assert (ok.json()["approval_tiers"], ok.json()["approval_sla_minutes"]) == (["manager"], None)


async def test_a_closed_case_gets_no_new_gesture_until_it_is_reopened(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    first = await make_incentive(db, tenant, value=500)
    second = await make_incentive(db, tenant, value=700)
    await make_customer(db, tenant, external_id="C-1")
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-1", "reason": "late_delivery", "severity": 2,
        "channel": "email"})).json()
    given = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(first.id), "deliver": False})
    assert given.status_code == 201, given.text
    closed = await client.post(f"/v1/cases/{case['id']}/transitions", headers=admin, json={
        "to": "closed", "skip_reason": "customer happy"})
    assert closed.status_code == 200, closed.text
    refused = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(second.id), "deliver": False})
    assert refused.status_code == 409
    assert refused.json()["code"] == "case_closed"
    # The gesture given before is still answered, the same, to a retry.
    again = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(first.id), "deliver": False})
    assert again.status_code == 200
    assert again.json()["id"] == given.json()["id"]
    assert await _count(db, Coupon) == 1
    reopened = await client.post(f"/v1/cases/{case['id']}/reopen", headers=admin,
                                 json={"reason": "wrong item after all"})
    assert reopened.status_code == 200
    after = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(second.id), "deliver": False})
    assert after.status_code == 202, after.text  # open again: asked as any second gesture
    assert after.json()["grounds"] == ["second_gesture"]
