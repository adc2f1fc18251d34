"""The redeem route answers a till's redeem with one statement, with the same answer and the
same rows as its standard handler; anything to explain goes through the standard handler."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.models import AuditEvent, Redemption, WebhookDelivery
from tests.factories import bearer, make_api_key, make_coupon, make_customer, make_org
from tests.peers import application, from_address

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def settings(database_url: str) -> Settings:
    """As in production: a verified API key is remembered for a few seconds. The webhook
    endpoint is on 127.0.0.1, so local peers are allowed."""
    return Settings(database_url=database_url, embedded_worker=False, log_json=False,
                    api_key_cache_seconds=5, outbound_allow_private=True,
                    _env_file=None)  # type: ignore[call-arg]


async def test_a_plain_redeem_takes_the_lane_and_answers_as_the_application_would(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-1")
    first, second = [await make_coupon(db, tenant, customer=customer, value=1000,
                                       case_ref=f"K-{n}") for n in range(2)]
    body = {"code": first.code, "customer_id": "C-1", "order_id": "O-1",
            "order_amount": 4000, "store_id": "S-1"}
    # The route verifies a key it has not seen as the application would, and answers.
    full = await client.post("/v1/redemptions", headers=till, json={
        **body, "code": second.code, "order_id": "O-2"})
    assert full.status_code == 201
    assert full.headers["x-served-by"] == "one-statement"
    lane = await client.post("/v1/redemptions", headers=till, json=body)
    assert lane.status_code == 201
    assert lane.headers["x-served-by"] == "one-statement"
    assert lane.headers["x-request-id"]
    assert lane.headers["x-content-type-options"] == "nosniff"
    assert set(lane.json()) == set(full.json())
    assert (lane.json()["discount"], lane.json()["amount_due"]) == (1000, 3000)
    # Used already: the lane steps aside and the application explains, in problem+json.
    again = await client.post("/v1/redemptions", headers=till, json=body)
    assert again.status_code == 409
    assert again.json()["code"] == "coupon_already_redeemed"
    assert "x-served-by" not in again.headers
    bad = await client.post("/v1/redemptions", headers=till, json={**body, "order_amount": -1})
    assert bad.status_code == 422
    async with db.transaction(write=False) as session:
        audited = await session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "coupon.redeemed", AuditEvent.object_id == str(first.id)))
        assert audited == 1
        stored = await session.scalar(select(Redemption).where(
            Redemption.coupon_id == first.id))
        assert stored is not None
        assert (stored.order_id, stored.store_id, stored.discount) == ("O-1", "S-1", 1000)


async def test_fifty_concurrent_redeems_through_the_lane_redeem_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-1")
    warm = await make_coupon(db, tenant, customer=customer, case_ref="warm")
    await client.post("/v1/redemptions", headers=till, json={
        "code": warm.code, "customer_id": "C-1", "order_id": "W", "order_amount": 5000})
    coupon = await make_coupon(db, tenant, customer=customer, case_ref="race")
    answers = await asyncio.gather(*(client.post("/v1/redemptions", headers=till, json={
        "code": coupon.code, "customer_id": "C-1", "order_id": f"O-{n}", "order_amount": 5000})
        for n in range(50)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 49
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.coupon_id == coupon.id)) == 1


async def test_idempotent_redeems_and_webhook_subscribers_take_the_one_statement(
    client: httpx.AsyncClient, db: Database, backend: str
) -> None:
    """On PostgreSQL; on Citus the keys and jobs live on the coordinator, and the standard
    handler writes them beside the claim and the record."""
    direct = "one-statement" if backend == "postgres" else None
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-1")
    coupons = [await make_coupon(db, tenant, customer=customer, case_ref=f"I-{n}")
               for n in range(4)]
    await client.post("/v1/redemptions", headers=till, json={
        "code": coupons[0].code, "customer_id": "C-1", "order_id": "O-0", "order_amount": 5000})
    keyed = await client.post("/v1/redemptions", headers={**till, "Idempotency-Key": "k-1"},
                              json={"code": coupons[1].code, "customer_id": "C-1",
                                    "order_id": "O-1", "order_amount": 5000})
    assert keyed.status_code == 201
    assert keyed.headers.get("x-served-by") == direct
    replay = await client.post("/v1/redemptions", headers={**till, "Idempotency-Key": "k-1"},
                               json={"code": coupons[1].code, "customer_id": "C-1",
                                     "order_id": "O-1", "order_amount": 5000})
    assert replay.content == keyed.content
    assert replay.headers["idempotent-replayed"] == "true"
    created = await client.post("/v1/webhook-endpoints", headers=admin, json={
        "url": "http://127.0.0.1:9/hook", "event_types": ["coupon.redeemed"]})
    assert created.status_code == 201, created.text
    # The new endpoint is news to this process: the route reads the outbox again, and the
    # redeem writes the endpoint's delivery.
    hooked = [await client.post("/v1/redemptions", headers=till, json={
        "code": coupons[n].code, "customer_id": "C-1", "order_id": f"O-{n}",
        "order_amount": 5000}) for n in (2, 3)]
    assert [h.status_code for h in hooked] == [201, 201]
    assert [h.headers.get("x-served-by") for h in hooked] == [direct, direct]
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2


async def test_the_lane_steps_aside_for_a_locked_code_and_a_spent_organisation_budget(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-1")
    warm, taken, locked, later = [await make_coupon(db, tenant, customer=customer,
                                                    case_ref=f"L-{n}") for n in range(4)]

    def body(code: str, customer: str = "C-1") -> dict[str, object]:
        return {"code": code, "customer_id": customer, "order_id": f"O-{code}",
                "order_amount": 5000}

    async with application(settings, wrong_customer_attempts_per_code=2,
                           code_failures_per_organization_per_minute=4) as app, \
            from_address(app, "203.0.113.9") as client:
        assert (await client.post("/v1/redemptions", headers=till, json=body(warm.code))
                ).status_code == 201
        lane = await client.post("/v1/redemptions", headers=till, json=body(taken.code))
        assert lane.headers["x-served-by"] == "one-statement"
        for guess in ("C-2", "C-3"):
            wrong = await client.post("/v1/redemptions", headers=till,
                                      json=body(locked.code, guess))
            assert wrong.json()["code"] == "wrong_customer"
        refused = await client.post("/v1/redemptions", headers=till, json=body(locked.code))
        assert refused.status_code == 429
        assert refused.json()["code"] == "coupon_locked"
        assert "x-served-by" not in refused.headers
        for n in range(2):  # the organisation's fourth failure spends its budget
            miss = await client.post("/v1/redemptions", headers=till,
                                     json=body(f"NOPE{n}", "C-9"))
            assert miss.status_code == 404
        spent = await client.post("/v1/redemptions", headers=till, json=body(later.code))
        assert spent.status_code == 429
        assert spent.json()["code"] == "too_many_attempts"
        assert "x-served-by" not in spent.headers
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.coupon_id.in_([locked.id, later.id]))) == 0
