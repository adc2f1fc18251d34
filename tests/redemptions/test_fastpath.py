"""One redemption per database: every shape of a till's redeem (an Idempotency-Key, a webhook
subscriber, Apple Wallet passes, a shop) writes the same rows and answers the same bytes,
whichever path answered it: PostgreSQL's one statement, Citus's claim and record, SQLite's
transaction."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.config import Settings
from amends.coupons import policy
from amends.db import Database
from amends.models import (
    AuditEvent,
    IdempotencyKey,
    Job,
    Redemption,
    ShopConnection,
    WalletConfig,
    WebhookDelivery,
)
from amends.redemptions import fastpath
from amends.redemptions.fastpath import DISCOUNT_SQL, numbered
from amends.redemptions.schemas import RedemptionOut
from amends.shops import outbox as shops_outbox
from amends.wallet import outbox as wallet_outbox
from tests.factories import bearer, make_api_key, make_coupon, make_customer, make_org
from tests.test_single_shard import problems

CASES = [
    ("percent_off", 15, 12345), ("percent_off", 10, 5), ("percent_off", 100, 999),
    ("percent_off", 33, 1), ("amount_off", 1000, 400), ("amount_off", 1000, 4000),
    ("free_item", 2599, 2599), ("free_item", 2599, 0), ("amount_off", 1, 0),
]
SHAPES = list(itertools.product([False, True], repeat=4))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """As in production: a verified API key is remembered for a few seconds."""
    return Settings(database_url=database_url, embedded_worker=False, log_json=False,
                    api_key_cache_seconds=5, outbound_allow_private=True,
                    _env_file=None)  # type: ignore[call-arg]


@pytest.mark.postgres_only
async def test_the_one_statement_redeem_computes_the_same_discount_as_the_policy(
    db: Database,
) -> None:
    sql, params = numbered(f"SELECT {DISCOUNT_SQL} FROM "
                           f"(SELECT :kind::varchar AS kind, :value::bigint AS value) c")
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        pg = raw.driver_connection
        assert pg is not None
        for kind, value, order in CASES:
            given = {"kind": kind, "value": value, "order_amount": order}
            assert await pg.fetchval(sql, *(given[p] for p in params)) == policy.discount(
                kind, value, order), (kind, value, order)


@pytest.mark.parametrize(("webhooks", "wallet", "shops", "keyed"), SHAPES)
def test_every_form_of_the_statement_stays_on_the_organisations_shard(
    webhooks: bool, wallet: bool, shops: bool, keyed: bool
) -> None:
    sql, params = fastpath.statement(
        fastpath.Outbox(webhooks, wallet, (uuid.uuid4(),) if shops else ()), keyed=keyed)
    assert problems(sql) == []
    assert f"WHERE organization_id = ${params.index('organization_id') + 1}" in sql
    assert len(set(params)) == len(params)


@pytest.mark.parametrize(("webhooks", "wallet", "shops", "keyed"), SHAPES)
async def test_every_shape_of_a_redeem_writes_its_outbox_and_answers_what_it_stores(
    client: httpx.AsyncClient, db: Database, backend: str,
    webhooks: bool, wallet: bool, shops: bool, keyed: bool,
) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    if webhooks:
        made = await client.post("/v1/webhook-endpoints", headers=bearer(tenant.admin_token),
                                 json={"url": "http://127.0.0.1:9/hook",
                                       "event_types": ["coupon.redeemed"]})
        assert made.status_code == 201, made.text
        # Another endpoint that wants other events only gets nothing.
        await client.post("/v1/webhook-endpoints", headers=bearer(tenant.admin_token),
                          json={"url": "http://127.0.0.1:9/other",
                                "event_types": ["case.closed"]})
    shop_id = None
    async with db.transaction() as session:
        if wallet:
            session.add(WalletConfig(organization_id=tenant.id, platform="apple",
                                     settings={"pass_type_identifier": "pass.example"}))
        if shops:
            shop = ShopConnection(organization_id=tenant.id, platform="shopify",
                                  shop_url="https://shop.example", name="Shop", settings={},
                                  secrets={"access_token": "t", "client_secret": "s"})
            session.add(shop)
            await session.flush()
            shop_id = shop.id
    wallet_outbox.forget()
    shops_outbox.forget()
    customer = await make_customer(db, tenant, external_id="C-7")
    warm, coupon = [await make_coupon(db, tenant, customer=customer, kind="percent_off",
                                      value=15, case_ref=f"K-{n}") for n in range(2)]
    body: dict[str, Any] = {"customer_id": "C-7", "order_amount": 12345, "currency": "EUR",
                            "store_id": "Leeds", "till_id": "T3"}
    # The first redeem with a key verifies it and learns the organisation's outbox.
    first = await client.post("/v1/redemptions", headers=till,
                              json={**body, "code": warm.code, "order_id": "W"})
    assert first.status_code == 201, first.text
    headers = {**till, "Idempotency-Key": f"till-3-{uuid.uuid4()}"} if keyed else till
    answer = await client.post("/v1/redemptions", headers=headers,
                               json={**body, "code": coupon.code, "order_id": "O-1"})
    assert answer.status_code == 201, answer.text
    direct = {"postgres": "one-statement",
              "citus": None if webhooks or wallet or shops or keyed else "one-statement",
              "sqlite": None if keyed else "group-commit"}[backend]
    assert answer.headers.get("x-served-by") == direct

    async with db.transaction(write=False) as session:
        redemption = await session.scalar(select(Redemption).where(
            Redemption.organization_id == tenant.id, Redemption.coupon_id == coupon.id))
        assert redemption is not None
        assert answer.content == RedemptionOut.of(redemption).model_dump_json().encode()
        assert (redemption.discount, redemption.currency, redemption.store_id,
                redemption.till_id) == (1852, "EUR", "Leeds", "T3")
        event = await session.scalar(select(AuditEvent).where(
            AuditEvent.organization_id == tenant.id, AuditEvent.action == "coupon.redeemed",
            AuditEvent.object_id == str(coupon.id)))
        assert event is not None
        after = {"code": coupon.code, "order_id": "O-1", "order_amount": 12345,
                 "discount": 1852, "channel": "in_store", "store_id": "Leeds"}
        assert event.after == after
        deliveries = (await session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.organization_id == tenant.id))).all()
        mine = [d for d in deliveries
                if d.payload["data"]["coupon_id"] == str(coupon.id)]
        jobs = (await session.scalars(select(Job).where(
            Job.organization_id == tenant.id))).all()
        stored = await session.scalar(select(IdempotencyKey).where(
            IdempotencyKey.organization_id == tenant.id))
    if webhooks:
        assert len(mine) == 1
        assert mine[0].event_type == "coupon.redeemed"
        assert mine[0].event_id.startswith("msg_")
        assert len(mine[0].event_id) == 36
        assert mine[0].payload["type"] == "coupon.redeemed"
        assert mine[0].payload["data"] == {
            "redemption_id": str(redemption.id), "coupon_id": str(coupon.id),
            "customer_id": "C-7", "case_reference": "K-1", **after}
        assert {(j.kind, j.payload["delivery_id"]) for j in jobs
                if j.kind == "webhooks.deliver"} >= {("webhooks.deliver", str(mine[0].id))}
    else:
        assert deliveries == []
    # What the redeem queued for the coupon (issuing it queued its push into the shop).
    for_coupon = sorted((j.kind, j.status, tuple(sorted(j.payload.items()))) for j in jobs
                        if j.payload.get("coupon_id") == str(coupon.id)
                        and j.kind != "shops.push")
    expected = []
    if shops:
        expected.append(("shops.sync", "queued", (("connection_id", str(shop_id)),
                                                  ("coupon_id", str(coupon.id)))))
    if wallet:
        expected.append(("wallet.pass_changed", "queued", (("coupon_id", str(coupon.id)),)))
    assert for_coupon == sorted(expected)
    if keyed:
        assert stored is not None
        assert stored.response_status == 201
        assert stored.response_body == answer.content
        replay = await client.post("/v1/redemptions", headers=headers,
                                   json={**body, "code": coupon.code, "order_id": "O-1"})
        assert replay.status_code == 201
        assert replay.content == answer.content
        assert replay.headers["idempotent-replayed"] == "true"
        reused = await client.post("/v1/redemptions", headers=headers,
                                   json={**body, "code": warm.code, "order_id": "O-2"})
        assert reused.status_code == 409
        assert reused.json()["code"] == "idempotency_key_reused"
    else:
        assert stored is None


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_shops_own_discount_is_recorded_as_it_came(
    db: Database, keyed: bool
) -> None:
    """An online shop's discount engine applied the code: the redeem records what it took
    off (never more than the order), on every database through the one redemption."""
    from amends.actor import Actor
    from amends.redemptions import service

    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    coupon = await make_coupon(db, tenant, customer=customer, kind="percent_off", value=10)
    actor = Actor(organization_id=tenant.id, kind="api_key", id=uuid.uuid4(), label="shop")
    async with db.transaction() as session:
        if keyed:
            await session.connection()
        made = await service.redeem(session, actor, service.Order(
            code=coupon.code, order_amount=3000, customer_external_id="C-1", order_id="S-1",
            channel="online", discount=5000))
    assert (made.discount, made.order_amount) == (3000, 3000)


async def test_a_burst_of_retries_with_one_key_redeems_once_and_answers_alike(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Twenty tills' retries with one Idempotency-Key at the same moment, and five other
    requests that reuse the key for another coupon: one redemption, every retry answers its
    bytes, the reuses are refused and leave their coupon as it was."""
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-1")
    warm, coupon, other = [await make_coupon(db, tenant, customer=customer, case_ref=f"B-{n}")
                           for n in range(3)]
    body = {"customer_id": "C-1", "order_amount": 5000}
    assert (await client.post("/v1/redemptions", headers=till, json={
        **body, "code": warm.code, "order_id": "W"})).status_code == 201
    keyed = {**till, "Idempotency-Key": "burst-1"}
    answers = await asyncio.gather(
        *(client.post("/v1/redemptions", headers=keyed,
                      json={**body, "code": coupon.code, "order_id": "O-1"})
          for _ in range(20)),
        *(client.post("/v1/redemptions", headers=keyed,
                      json={**body, "code": other.code, "order_id": "O-2"})
          for _ in range(5)))
    # Whichever body reached the key first wins it; the other is refused, all of it.
    retries, reuses = answers[:20], answers[20:]
    if reuses[0].status_code == 201:
        retries, reuses, coupon = reuses, retries, other
    assert {a.status_code for a in retries} == {201}
    assert len({a.content for a in retries}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in retries) == 1
    assert {a.json()["code"] for a in reuses} == {"idempotency_key_reused"}
    async with db.transaction(write=False) as session:
        used = dict((await session.execute(select(Redemption.coupon_id, func.count()).where(
            Redemption.organization_id == tenant.id).group_by(Redemption.coupon_id))).all())
        keys = await session.scalar(select(func.count()).select_from(IdempotencyKey).where(
            IdempotencyKey.organization_id == tenant.id))
    assert used == {warm.id: 1, coupon.id: 1}
    assert keys == 1
