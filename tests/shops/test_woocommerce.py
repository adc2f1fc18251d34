"""A gesture reaches a WooCommerce store as a coupon for the customer's e-mail alone, once,
and the store's signed `order.updated` webhooks record and void its use: against a local
store that checks each body against the v3 coupon properties and rate limits as a host in
front of WooCommerce does."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.kit.clock import utcnow
from amends.models import Redemption
from amends.shops import tasks as shop_tasks  # noqa: F401  (registers the shops' jobs)
from tests.factories import Tenant, bearer, make_customer, make_incentive, make_org
from tests.shops.fakes import FakeWooCommerce, woocommerce_shop


async def connect(client: httpx.AsyncClient, tenant: Tenant, shop: FakeWooCommerce
                  ) -> dict[str, Any]:
    response = await client.post("/v1/shops", headers=bearer(tenant.admin_token), json={
        "platform": "woocommerce", "shop_url": shop.url,
        "secrets": {"consumer_key": shop.consumer_key,
                    "consumer_secret": shop.consumer_secret,
                    "webhook_secret": shop.webhook_secret}})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def give(client: httpx.AsyncClient, db: Database, tenant: Tenant, *, email: str,
               **incentive: Any) -> dict[str, Any]:
    customer = await make_customer(db, tenant, email=email)
    made = await make_incentive(db, tenant, **incentive)
    response = await client.post("/v1/coupons", headers=bearer(tenant.admin_token), json={
        "customer_id": customer.external_id, "incentive_id": str(made.id),
        "case_reference": "W-1"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def order(order_id: int, code: str, *, status: str = "processing",
          discount: str = "10.00") -> dict[str, Any]:
    """An order as `GET /wc/v3/orders/{id}` shows it (the webhook's payload)."""
    return {"id": order_id, "number": str(order_id), "status": status, "currency": "EUR",
            "customer_id": 0, "billing": {"email": "ann@example.com"},
            "date_paid_gmt": "2026-12-03T10:12:44", "date_modified_gmt": "2026-12-03T10:12:45",
            "discount_total": discount, "discount_tax": "0.00", "total": "42.50",
            "line_items": [{"id": 1, "name": "Mug", "quantity": 2, "subtotal": "26.25"},
                           {"id": 2, "name": "Tea", "quantity": 1, "subtotal": "26.25"}],
            "coupon_lines": [{"id": 318, "code": code.lower(), "discount": discount,
                              "discount_tax": "0.00", "meta_data": []}],
            "refunds": []}


async def deliver(client: httpx.AsyncClient, connection: dict[str, Any], payload: Any, *,
                  signature: str | None, topic: str = "order.updated") -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
               "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated",
               "X-WC-Webhook-ID": "142"}
    if signature is not None:
        headers["X-WC-Webhook-Signature"] = signature
    return await client.post(f"/v1/shops/{connection['id']}/webhooks/woocommerce",
                             content=raw, headers=headers)


async def test_a_gesture_becomes_a_coupon_for_the_customers_email_and_its_order_redeems_it(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with woocommerce_shop() as shop:
        connection = await connect(client, tenant, shop)
        assert shop.consumer_secret not in json.dumps(connection)
        coupon = await give(client, db, tenant, email="ann@example.com", value=1000,
                            min_order=3000)
        await Worker(db, settings).run_until_idle()

        held = shop.by_code(coupon["code"])
        assert held is not None
        assert held["code"] == coupon["code"].lower()
        assert held["discount_type"] == "fixed_cart"
        assert held["amount"] == "10.00"
        assert held["usage_limit"] == 1
        assert held["usage_limit_per_user"] == 1
        assert held["email_restrictions"] == ["ann@example.com"]
        assert held["minimum_amount"] == "30.00"
        expires = datetime.fromisoformat(coupon["expires_at"].replace("Z", "+00:00"))
        assert held["date_expires_gmt"] == expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

        ping = await client.post(f"/v1/shops/{connection['id']}/webhooks/woocommerce",
                                 content=b"webhook_id=142",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert ping.status_code == 200

        paid = order(727, coupon["code"])
        raw = json.dumps(paid).encode()
        first = await deliver(client, connection, raw, signature=shop.sign(raw))
        assert first.json() == {"outcome": "recorded"}
        # order.updated fires on every save: the same order again records nothing more.
        again = await deliver(client, connection, raw, signature=shop.sign(raw))
        assert again.json() == {"outcome": "ignored"}
        async with db.transaction(write=False) as session:
            redemption = (await session.scalars(select(Redemption).where(
                Redemption.organization_id == tenant.id))).one()
        assert redemption.channel == "online"
        assert redemption.order_id == "727"
        assert redemption.order_amount == 5250
        assert redemption.discount == 1000

        forged = await deliver(client, connection, order(727, coupon["code"],
                                                         status="cancelled"),
                               signature="Zm9yZ2Vk")
        assert forged.status_code == 401
        assert forged.json()["code"] == "shop_webhook_refused"

        cancelled = order(727, coupon["code"], status="cancelled")
        raw = json.dumps(cancelled).encode()
        assert (await deliver(client, connection, raw, signature=shop.sign(raw))).json() == {
            "outcome": "voided"}
        shown = (await client.get(f"/v1/coupons/{coupon['id']}",
                                  headers=bearer(tenant.admin_token))).json()
        assert shown["status"] == "active"
        async with db.transaction(write=False) as session:
            assert await session.scalar(select(func.count()).select_from(Redemption).where(
                Redemption.organization_id == tenant.id,
                Redemption.status == "voided")) == 1


async def test_an_unpaid_order_records_nothing_until_it_is_paid(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with woocommerce_shop() as shop:
        connection = await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="bo@example.com")
        await Worker(db, settings).run_until_idle()
        waiting = {**order(8, coupon["code"], status="on-hold"), "date_paid_gmt": None}
        raw = json.dumps(waiting).encode()
        assert (await deliver(client, connection, raw, signature=shop.sign(raw))).json() == {
            "outcome": "ignored"}
        shown = (await client.get(f"/v1/coupons/{coupon['id']}",
                                  headers=bearer(tenant.admin_token))).json()
        assert shown["status"] == "active"


async def test_revocation_and_extension_reach_the_store(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    headers = bearer(tenant.admin_token)
    with woocommerce_shop() as shop:
        await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="cy@example.com", kind="percent_off",
                            value=20)
        await Worker(db, settings).run_until_idle()
        held = shop.by_code(coupon["code"])
        assert held is not None
        assert (held["discount_type"], held["amount"]) == ("percent", "20")

        later = (utcnow() + timedelta(days=60)).replace(microsecond=0)
        extended = await client.post(f"/v1/coupons/{coupon['id']}/reinstate", headers=headers,
                                     json={"reason": "late", "notify": False,
                                           "expires_at": later.isoformat()})
        assert extended.status_code == 200, extended.text
        await Worker(db, settings).run_until_idle()
        assert held["date_expires_gmt"] == later.strftime("%Y-%m-%dT%H:%M:%S")

        revoked = await client.post(f"/v1/coupons/{coupon['id']}/revoke", headers=headers,
                                    json={"reason": "duplicate"})
        assert revoked.status_code == 200
        await Worker(db, settings).run_until_idle()
        assert held["status"] == "draft"


async def test_a_rate_limited_store_is_asked_again_after_its_retry_after(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with woocommerce_shop(rate_limited=2, retry_after="1") as shop:
        await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="di@example.com")
        started = time.monotonic()
        await Worker(db, settings).run_until_idle()
        assert shop.by_code(coupon["code"]) is not None
        assert time.monotonic() - started >= 2.0  # waited Retry-After twice
        assert len(shop.limited_at) == 2


async def test_a_store_that_refuses_the_key_marks_the_code_failed(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with woocommerce_shop() as shop:
        connection = await connect(client, tenant, shop)
        shop.consumer_secret = "cs_rotated"
        coupon = await give(client, db, tenant, email="ed@example.com")
        await Worker(db, settings).run_until_idle()
        failed = (await client.get(f"/v1/shops/{connection['id']}/codes?status=failed",
                                   headers=bearer(tenant.admin_token))).json()["items"]
        assert [c["coupon_id"] for c in failed] == [coupon["id"]]
        assert "consumer key" in failed[0]["last_error"]
