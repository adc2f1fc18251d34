from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.kit import codes
from amends.models import AuditEvent, Coupon
from tests.factories import bearer, make_api_key, make_customer, make_incentive, make_org


async def _issuer(db: Database) -> tuple[object, dict[str, str]]:
    tenant = await make_org(db)
    token = await make_api_key(db, tenant, scopes=["coupons:issue"])
    return tenant, bearer(token)


async def test_issuing_returns_a_readable_checked_code_and_the_terms(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, headers = await _issuer(db)
    incentive = await make_incentive(db, tenant, kind="percent_off", value=15, min_order=2000,
                                     terms="One order, not with other offers.")
    response = await client.post("/v1/coupons", headers=headers, json={
        "customer_id": "C-1", "customer": {"email": "Ann@Example.com", "name": "Ann"},
        "incentive_id": str(incentive.id), "case_reference": "T-100", "channel": "email",
        "deliver": False})
    assert response.status_code == 201, response.text
    coupon = response.json()
    assert codes.is_valid(codes.normalise(coupon["code"]))
    assert coupon["code"].count("-") == 2
    assert coupon["status"] == "active"
    assert coupon["customer_id"] == "C-1"
    assert coupon["face_value"] == 750  # 15% of the default 50.00 average order
    assert coupon["terms"] == "One order, not with other offers."
    assert coupon["issued_by"].startswith("api key")
    again = await client.post("/v1/coupons", headers=headers, json={
        "customer_id": "C-1", "incentive_id": str(incentive.id), "case_reference": "T-100"})
    assert again.status_code == 200
    assert again.json()["id"] == coupon["id"]
    assert again.json()["code"] == coupon["code"]
    other_case = await client.post("/v1/coupons", headers=headers, json={
        "customer_id": "C-1", "incentive_id": str(incentive.id), "case_reference": "T-101"})
    # A second gesture for the same customer within 30 days waits for a supervisor.
    assert other_case.status_code == 202
    assert other_case.json()["grounds"] == ["second_gesture"]


async def test_fifty_concurrent_issues_make_one_coupon_and_one_code(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, headers = await _issuer(db)
    customer = await make_customer(db, tenant, external_id="C-50")
    incentive = await make_incentive(db, tenant)
    body = {"customer_id": customer.external_id, "incentive_id": str(incentive.id),
            "case_reference": "CASE-9"}
    responses = await asyncio.gather(
        *(client.post("/v1/coupons", headers=headers, json=body) for _ in range(50)))
    assert {r.status_code for r in responses} <= {200, 201}
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["code"] for r in responses}) == 1
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Coupon)) == 1
        assert await session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "coupon.issued")) == 1


async def test_editing_an_incentive_leaves_issued_coupons_as_they_were(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    created = await client.post("/v1/incentives", headers=admin, json={
        "name": "Sorry 10", "kind": "amount_off", "value": 1000, "currency": "EUR",
        "validity_days": 30, "terms": "Old terms", "reasons": ["late_delivery"]})
    assert created.status_code == 201, created.text
    incentive_id = created.json()["id"]
    await make_customer(db, tenant, external_id="C-7")
    coupon = (await client.post("/v1/coupons", headers=admin, json={
        "customer_id": "C-7", "incentive_id": incentive_id})).json()
    edited = await client.patch(f"/v1/incentives/{incentive_id}", headers=admin,
                                json={"value": 2000, "terms": "New terms"})
    assert edited.status_code == 200
    assert edited.json()["value"] == 2000
    unchanged = (await client.get(f"/v1/coupons/{coupon['id']}", headers=admin)).json()
    assert unchanged["value"] == 1000
    assert unchanged["terms"] == "Old terms"
    bad = await client.patch(f"/v1/incentives/{incentive_id}", headers=admin,
                             json={"value": 101, "kind": "percent_off"})
    # kind is not editable: refused by name, not silently ignored, and nothing changes.
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["kind"]
    kept = await client.get(f"/v1/incentives/{incentive_id}", headers=admin)
    assert kept.json()["value"] == 2000
    pct = await client.post("/v1/incentives", headers=admin, json={
        "name": "Too much", "kind": "percent_off", "value": 150, "currency": "EUR",
        "validity_days": 30})
    assert pct.status_code == 422


async def test_a_withdrawn_incentive_cannot_be_issued(client: httpx.AsyncClient,
                                                      db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = await make_incentive(db, tenant)
    withdrawn = await client.delete(f"/v1/incentives/{incentive.id}", headers=admin)
    assert withdrawn.json()["active"] is False
    listed = await client.get("/v1/incentives", headers=admin, params={"active": True})
    assert listed.json() == []
    await make_customer(db, tenant, external_id="C-1")
    response = await client.post("/v1/coupons", headers=admin, json={
        "customer_id": "C-1", "incentive_id": str(incentive.id)})
    assert response.status_code == 409
    assert response.json()["code"] == "incentive_inactive"


async def test_revoke_and_reinstate_are_one_call_each_and_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    from datetime import timedelta

    from amends.kit.clock import clock

    tenant, headers = await _issuer(db)
    incentive = await make_incentive(db, tenant, validity_days=10)
    await make_customer(db, tenant, external_id="C-1")
    coupon = (await client.post("/v1/coupons", headers=headers, json={
        "customer_id": "C-1", "incentive_id": str(incentive.id)})).json()
    clock.advance(timedelta(days=11))
    assert (await client.get(f"/v1/coupons/{coupon['id']}", headers=headers)
            ).json()["status"] == "expired"
    reinstated = await client.post(f"/v1/coupons/{coupon['id']}/reinstate", headers=headers,
                                   json={"reason": "Customer was on holiday", "days": 14})
    assert reinstated.status_code == 200
    assert reinstated.json()["status"] == "active"
    revoked = await client.post(f"/v1/coupons/{coupon['id']}/revoke", headers=headers,
                                json={"reason": "Issued to the wrong person"})
    assert revoked.json()["status"] == "revoked"
    refused = await client.post(f"/v1/coupons/{coupon['id']}/reinstate", headers=headers,
                                json={"reason": "x", "days": 5})
    assert refused.status_code == 409
    assert refused.json()["code"] == "coupon_revoked"
    async with db.transaction(write=False) as session:
        events = (await session.scalars(select(AuditEvent).where(
            AuditEvent.object_id == coupon["id"]).order_by(AuditEvent.id))).all()
    assert [e.action for e in events] == ["coupon.issued", "coupon.reinstated", "coupon.revoked"]
    assert events[1].reason == "Customer was on holiday"


async def test_another_organisation_sees_404_for_coupons_and_incentives(
    client: httpx.AsyncClient, db: Database
) -> None:
    ours, theirs = await make_org(db), await make_org(db)
    coupon = await _coupon_of(db, theirs)
    ours_h = bearer(ours.admin_token)
    assert (await client.get(f"/v1/coupons/{coupon.id}", headers=ours_h)).status_code == 404
    assert (await client.get(f"/v1/incentives/{coupon.incentive_id}", headers=ours_h)
            ).status_code == 404
    assert (await client.post(f"/v1/coupons/{coupon.id}/revoke", headers=ours_h,
                              json={"reason": "x"})).status_code == 404
    assert (await client.get(f"/v1/customers/{coupon.customer_external_id}", headers=ours_h)
            ).status_code == 404
    listed = await client.get("/v1/coupons", headers=ours_h)
    assert listed.json()["items"] == []


async def _coupon_of(db: Database, tenant: object) -> Coupon:
    from tests.factories import make_coupon

    return await make_coupon(db, tenant)  # type: ignore[arg-type]


async def test_only_issuers_issue(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    till = await make_api_key(db, tenant, scopes=["redemptions:write"])
    incentive = await make_incentive(db, tenant)
    response = await client.post("/v1/coupons", headers=bearer(till), json={
        "customer_id": "C-1", "incentive_id": str(incentive.id)})
    assert response.status_code == 403
