"""A gesture reaches a Shopify shop as the customer's own single-use code, and its use comes
back from Shopify's signed order webhooks: against a local shop that validates every GraphQL
document against the Admin schema's types and throttles as Shopify does."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import parse, validate
from sqlalchemy import func, select, update

from amends.config import Settings
from amends.db import Database
from amends.integrations.shopify import client as shopify_client
from amends.integrations.shopify import documents
from amends.jobs import service as jobs
from amends.jobs.worker import Worker
from amends.kit.clock import utcnow
from amends.models import Job, Redemption, ShopCode
from amends.shops import tasks as shop_tasks
from tests.factories import Tenant, bearer, make_customer, make_incentive, make_org
from tests.shops.fakes import SCHEMA, Discount, FakeShopify, shopify_shop

DOCUMENTS = [value for name, value in vars(documents).items()
             if name.isupper() and isinstance(value, str) and value.lstrip().startswith(
                 ("mutation", "query"))]


@pytest.fixture(autouse=True)
def _fresh_buckets() -> None:
    shopify_client.forget_buckets()


def test_every_document_amends_sends_is_valid_against_shopifys_schema() -> None:
    assert len(DOCUMENTS) >= 12
    for document in DOCUMENTS:
        assert validate(SCHEMA, parse(document)) == [], document


async def connect(client: httpx.AsyncClient, tenant: Tenant, shop: FakeShopify,
                  **secrets: str) -> dict[str, Any]:
    response = await client.post("/v1/shops", headers=bearer(tenant.admin_token), json={
        "platform": "shopify", "shop_url": shop.url, "name": "Web shop",
        "secrets": {"access_token": shop.token, "client_secret": shop.client_secret,
                    **secrets}})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def give(client: httpx.AsyncClient, db: Database, tenant: Tenant, *, email: str,
               **incentive: Any) -> dict[str, Any]:
    customer = await make_customer(db, tenant, email=email)
    made = await make_incentive(db, tenant, **incentive)
    response = await client.post("/v1/coupons", headers=bearer(tenant.admin_token), json={
        "customer_id": customer.external_id, "incentive_id": str(made.id),
        "case_reference": "T-1"})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def webhook(client: httpx.AsyncClient, connection: dict[str, Any], topic: str,
                  payload: dict[str, Any], *, signature: str) -> httpx.Response:
    raw = json.dumps(payload).encode()
    return await client.post(
        f"/v1/shops/{connection['id']}/webhooks/shopify", content=raw, headers={
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": "cool.myshopify.com",
            "X-Shopify-API-Version": "2026-10"})


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def paid_order(order_id: int, code: str, *, discount: str = "10.00",
               total: str = "45.00") -> dict[str, Any]:
    """`orders/paid` as https://shopify.dev/docs/api/webhooks/latest shows it (the fields
    Amends reads, and some it does not)."""
    return {"id": order_id, "name": "#1001", "currency": "EUR", "financial_status": "paid",
            "total_line_items_price": total, "subtotal_price": "35.00",
            "total_discounts": discount, "total_price": "39.90", "cancelled_at": None,
            "discount_codes": [{"code": code, "amount": discount, "type": "fixed_amount"}],
            "customer": {"id": 115310627314723954}, "line_items": []}


async def send(client: httpx.AsyncClient, connection: dict[str, Any], shop: FakeShopify,
               topic: str, payload: dict[str, Any]) -> httpx.Response:
    raw = json.dumps(payload).encode()
    return await webhook(client, connection, topic, payload, signature=shop.sign(raw))


async def test_a_gesture_becomes_the_customers_code_in_shopify_and_its_paid_order_redeems_it(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop() as shop:
        gid = shop.customer("ann@example.com")
        connection = await connect(client, tenant, shop)
        assert "access_token" in connection["secrets_set"]
        assert shop.token not in json.dumps(connection)
        coupon = await give(client, db, tenant, email="ann@example.com", value=1000,
                            min_order=3000)
        await Worker(db, settings).run_until_idle()

        discount = shop.by_code(coupon["code"])
        assert discount is not None
        fields = discount.fields
        assert fields["context"] == {"customers": {"add": [gid]}}
        assert fields["usageLimit"] == 1
        assert fields["appliesOncePerCustomer"] is True
        assert fields["customerGets"]["value"] == {
            "discountAmount": {"amount": "10.00", "appliesOnEachItem": False}}
        assert fields["minimumRequirement"] == {
            "subtotal": {"greaterThanOrEqualToSubtotal": "30.00"}}
        assert moment(fields["endsAt"]) == moment(coupon["expires_at"])

        order = paid_order(820982911946154508, coupon["code"].lower())
        answer = await send(client, connection, shop, "orders/paid", order)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"outcome": "recorded"}
        again = await send(client, connection, shop, "orders/paid", order)
        assert again.json() == {"outcome": "ignored"}

        shown = (await client.get(f"/v1/coupons/{coupon['id']}",
                                  headers=bearer(tenant.admin_token))).json()
        assert shown["status"] == "redeemed"
        async with db.transaction(write=False) as session:
            redemptions = (await session.scalars(select(Redemption).where(
                Redemption.organization_id == tenant.id))).all()
        assert len(redemptions) == 1
        assert redemptions[0].channel == "online"
        assert redemptions[0].order_id == "820982911946154508"
        assert redemptions[0].discount == 1000
        assert redemptions[0].order_amount == 4500

        cancelled = await send(client, connection, shop, "orders/cancelled",
                               {**order, "cancelled_at": "2026-12-02T10:00:00Z"})
        assert cancelled.json() == {"outcome": "voided"}
        shown = (await client.get(f"/v1/coupons/{coupon['id']}",
                                  headers=bearer(tenant.admin_token))).json()
        assert shown["status"] == "active"
        async with db.transaction(write=False) as session:
            voided = await session.scalar(select(func.count()).select_from(Redemption).where(
                Redemption.organization_id == tenant.id, Redemption.status == "voided"))
        assert voided == 1


async def test_a_forged_or_unsigned_webhook_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop() as shop:
        shop.customer("bo@example.com")
        connection = await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="bo@example.com")
        await Worker(db, settings).run_until_idle()
        order = paid_order(1, coupon["code"])
        forged = await webhook(client, connection, "orders/paid", order,
                               signature="c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ==")
        assert forged.status_code == 401
        assert forged.headers["content-type"].startswith("application/problem+json")
        assert forged.json()["code"] == "shop_webhook_refused"
        unsigned = await webhook(client, connection, "orders/paid", order, signature="")
        assert unsigned.status_code == 401
        shown = (await client.get(f"/v1/coupons/{coupon['id']}",
                                  headers=bearer(tenant.admin_token))).json()
        assert shown["status"] == "active"


async def test_revoking_extending_and_a_refund_reach_the_shop(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    headers = bearer(tenant.admin_token)
    with shopify_shop() as shop:
        shop.customer("cy@example.com")
        connection = await connect(client, tenant, shop)
        kept = await give(client, db, tenant, email="cy@example.com", kind="percent_off",
                          value=15)
        await Worker(db, settings).run_until_idle()
        discount = shop.by_code(kept["code"])
        assert discount is not None
        assert discount.fields["customerGets"]["value"] == {"percentage": 0.15}

        later = (utcnow() + timedelta(days=90)).replace(microsecond=0)
        extended = await client.post(f"/v1/coupons/{kept['id']}/reinstate", headers=headers,
                                     json={"reason": "late parcel", "notify": False,
                                           "expires_at": later.isoformat()})
        assert extended.status_code == 200, extended.text
        await Worker(db, settings).run_until_idle()
        assert moment(discount.fields["endsAt"]) == later

        refunded = await send(client, connection, shop, "orders/paid",
                              paid_order(77, kept["code"], discount="6.75"))
        assert refunded.json() == {"outcome": "recorded"}
        refund = {"id": 890088186047892319, "order_id": 77, "transactions": [
            {"kind": "refund", "status": "success", "amount": "39.90"}]}
        assert (await send(client, connection, shop, "refunds/create", refund)).json() == {
            "outcome": "voided"}

        revoked = await client.post(f"/v1/coupons/{kept['id']}/revoke", headers=headers,
                                    json={"reason": "given by mistake"})
        assert revoked.status_code == 200, revoked.text
        await Worker(db, settings).run_until_idle()
        assert discount.status() == "EXPIRED"
        codes_page = (await client.get(f"/v1/shops/{connection['id']}/codes",
                                       headers=headers)).json()
        assert [c["status"] for c in codes_page["items"]] == ["deactivated"]


async def test_a_throttled_shop_is_waited_for_and_every_code_gets_there(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    # A small bucket that refills at 40 points a second: four mutations a second.
    with shopify_shop(maximum=30.0, restore_rate=40.0) as shop:
        connection = await connect(client, tenant, shop)
        given = [await give(client, db, tenant, email=f"t{i}@example.com") for i in range(8)]
        await Worker(db, settings).run_until_idle()
        for coupon in given:
            assert shop.by_code(coupon["code"]) is not None
        page = (await client.get(f"/v1/shops/{connection['id']}/codes?status=pushed",
                                 headers=bearer(tenant.admin_token))).json()
        assert len(page["items"]) == 8


async def test_a_throttled_answer_with_http_429_is_waited_out_too(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    # Empty at first: the first mutation is throttled before Amends knows the bucket.
    with shopify_shop(maximum=10.0, restore_rate=20.0, throttle_status=429,
                      initial=0.0) as shop:
        await connect(client, tenant, shop)
        given = [await give(client, db, tenant, email=f"u{i}@example.com") for i in range(3)]
        await Worker(db, settings).run_until_idle()
        assert shop.throttled >= 1
        assert all(shop.by_code(c["code"]) for c in given)


async def test_a_code_the_shop_refuses_shows_as_not_in_the_shop_and_can_still_be_sent(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop() as shop:
        connection = await connect(client, tenant, shop, access_token="shpat_revoked")
        coupon = await give(client, db, tenant, email="di@example.com")
        await Worker(db, settings).run_until_idle()
        failed = (await client.get(f"/v1/shops/{connection['id']}/codes?status=failed",
                                   headers=bearer(tenant.admin_token))).json()["items"]
        assert [c["coupon_id"] for c in failed] == [coupon["id"]]
        assert "access token" in failed[0]["last_error"]
        shown = (await client.get(f"/v1/shops/{connection['id']}",
                                  headers=bearer(tenant.admin_token))).json()
        assert "access token" in shown["last_error"]
        assert shown["codes"] == {"failed": 1}


async def test_a_shop_that_is_down_is_retried_until_the_code_gets_there(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop(script=[503, 500]) as shop:
        connection = await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="ed@example.com")
        worker = Worker(db, settings)
        await worker.run_until_idle()
        pending = (await client.get(f"/v1/shops/{connection['id']}/codes",
                                    headers=bearer(tenant.admin_token))).json()["items"]
        assert pending[0]["status"] == "pending"
        assert "HTTP 503" in pending[0]["last_error"]
        for _ in range(2):
            async with db.transaction() as session:
                await session.execute(update(Job).where(Job.status == "queued")
                                      .values(run_at=utcnow()))
            await worker.run_until_idle()
        assert shop.by_code(coupon["code"]) is not None
        done = (await client.get(f"/v1/shops/{connection['id']}/codes",
                                 headers=bearer(tenant.admin_token))).json()["items"]
        assert done[0]["status"] == "pushed"
        assert done[0]["last_error"] is None


async def test_reconciliation_repairs_a_code_deleted_in_the_shop(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop() as shop:
        await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="fi@example.com")
        await Worker(db, settings).run_until_idle()
        lost = shop.by_code(coupon["code"])
        assert lost is not None
        shop.discounts.pop(lost.id)
        async with db.transaction() as session:
            await jobs.enqueue(session, shop_tasks.RECONCILE, organization_id=tenant.id,
                               payload={"organization_id": str(tenant.id)})
        await Worker(db, settings).run_until_idle()
        again = shop.by_code(coupon["code"])
        assert again is not None
        assert again.id != lost.id
        async with db.transaction(write=False) as session:
            row = await session.scalar(select(ShopCode).where(
                ShopCode.organization_id == tenant.id))
        assert row is not None
        assert row.remote_id == again.id
        assert row.status == "pushed"


async def reconcile(db: Database, settings: Settings, tenant: Tenant) -> None:
    async with db.transaction() as session:
        await jobs.enqueue(session, shop_tasks.RECONCILE, organization_id=tenant.id,
                           payload={"organization_id": str(tenant.id)})
    await Worker(db, settings).run_until_idle()


async def test_a_gift_card_becomes_a_shopify_gift_card_and_its_spending_is_read_back(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop() as shop:
        gid = shop.customer("gi@example.com")
        await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="gi@example.com", kind="gift_card",
                            value=2500)
        await Worker(db, settings).run_until_idle()
        card = next(iter(shop.gift_cards.values()))
        assert card.code == coupon["code"].replace("-", "")
        assert (card.initial, card.customer) == ("25.00", gid)
        assert card.expires_on == coupon["expires_at"][:10]

        card.balance = "15.50"  # spent 9.50 at the shop's checkout
        await reconcile(db, settings, tenant)
        await reconcile(db, settings, tenant)  # read again: nothing more is debited
        shown = (await client.get(f"/v1/coupons/{coupon['id']}",
                                  headers=bearer(tenant.admin_token))).json()
        assert shown["balance"] == 1550
        async with db.transaction(write=False) as session:
            redemptions = (await session.scalars(select(Redemption).where(
                Redemption.organization_id == tenant.id))).all()
        assert [(r.channel, r.discount) for r in redemptions] == [("online", 950)]


async def test_free_shipping_is_a_free_shipping_code_for_the_customer(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop() as shop:
        gid = shop.customer("fs@example.com")
        await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="fs@example.com", kind="free_shipping",
                            value=495)
        await Worker(db, settings).run_until_idle()
        discount = shop.by_code(coupon["code"])
        assert discount is not None
        assert discount.typename == "DiscountCodeFreeShipping"
        assert discount.fields["destination"] == {"all": True}
        assert discount.fields["context"] == {"customers": {"add": [gid]}}


async def test_a_code_already_in_the_shop_is_found_not_created_twice(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    """A push whose answer was lost (the shop created the code) is retried: Shopify answers
    TAKEN, and Amends keeps the code the shop holds."""
    tenant = await make_org(db)
    with shopify_shop() as shop:
        await connect(client, tenant, shop)
        shop.script.append(500)  # a first attempt that fails after nothing was created
        coupon = await give(client, db, tenant, email="ta@example.com")
        worker = Worker(db, settings)
        await worker.run_until_idle()
        # Meanwhile the code reached the shop by the earlier attempt.
        existing = Discount(id="gid://shopify/DiscountCodeNode/42", typename="DiscountCodeBasic",
                            fields={"code": coupon["code"], "title": "t",
                                    "startsAt": "2026-01-01T00:00:00Z"})
        shop.discounts[existing.id] = existing
        async with db.transaction() as session:
            await session.execute(update(Job).where(Job.status == "queued")
                                  .values(run_at=utcnow()))
        await worker.run_until_idle()
        assert len(shop.discounts) == 1
        async with db.transaction(write=False) as session:
            row = await session.scalar(select(ShopCode).where(
                ShopCode.organization_id == tenant.id))
        assert row is not None
        assert (row.status, row.remote_id) == ("pushed", existing.id)


async def test_a_customer_linked_by_their_shopify_id_gets_codes_for_that_id(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    headers = bearer(tenant.admin_token)
    with shopify_shop() as shop:
        gid = shop.customer("someone-else@example.com")  # Shopify knows another address
        connection = await connect(client, tenant, shop)
        customer = await make_customer(db, tenant, email="li@example.com")
        number = gid.rsplit("/", 1)[1]
        linked = await client.put(f"/v1/shops/{connection['id']}/customers/"
                                  f"{customer.external_id}", headers=headers,
                                  json={"shop_customer_id": number})
        assert linked.status_code == 200, linked.text
        assert linked.json() == {"customer_id": customer.external_id, "shop_customer_id": gid}
        wrong = await client.put(f"/v1/shops/{connection['id']}/customers/"
                                 f"{customer.external_id}", headers=headers,
                                 json={"shop_customer_id": "Customer 12"})
        assert wrong.status_code == 422
        assert wrong.json()["code"] == "invalid_shop_settings"
        unknown = await client.put(f"/v1/shops/{connection['id']}/customers/nobody",
                                   headers=headers, json={"shop_customer_id": number})
        assert unknown.status_code == 404

        made = await make_incentive(db, tenant)
        coupon = (await client.post("/v1/coupons", headers=headers, json={
            "customer_id": customer.external_id, "incentive_id": str(made.id)})).json()
        await Worker(db, settings).run_until_idle()
        discount = shop.by_code(coupon["code"])
        assert discount is not None
        assert discount.fields["context"] == {"customers": {"add": [gid]}}


async def test_connections_keep_their_secrets_and_refuse_what_their_platform_does_not_take(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    headers = bearer(tenant.admin_token)
    with shopify_shop() as shop:
        connection = await connect(client, tenant, shop)
        again = await client.post("/v1/shops", headers=headers, json={
            "platform": "shopify", "shop_url": shop.url,
            "secrets": {"access_token": "x", "client_secret": "y"}})
        assert again.status_code == 409
        assert again.json()["code"] == "shop_exists"
        missing = await client.post("/v1/shops", headers=headers, json={
            "platform": "woocommerce", "shop_url": "http://127.0.0.1:9",
            "secrets": {"consumer_key": "ck"}})
        assert missing.status_code == 422
        assert missing.json()["code"] == "invalid_shop_settings"
        foreign = await client.post("/v1/shops", headers=headers, json={
            "platform": "shopify", "shop_url": "http://127.0.0.1:10",
            "secrets": {"access_token": "x", "client_secret": "y", "consumer_key": "z"}})
        assert foreign.status_code == 422
        for malformed in ("https://[shop.example", "shop]", "https://shop.example:99999"):
            bad = await client.post("/v1/shops", headers=headers, json={
                "platform": "shopify", "shop_url": malformed,
                "secrets": {"access_token": "x", "client_secret": "y"}})
            assert (bad.status_code, bad.json()["code"], bad.json().get("field")) \
                == (422, "invalid_shop_settings", "shop_url"), (malformed, bad.text)
        changed = await client.patch(f"/v1/shops/{connection['id']}", headers=headers, json={
            "active": False, "settings": {"api_version": "2026-07"},
            "secrets": {"access_token": None}})
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["active"], body["settings"]) == (False, {"api_version": "2026-07"})
        assert body["secrets_set"] == ["access_token", "client_secret"]
        assert shop.token not in changed.text
        listed = (await client.get("/v1/shops", headers=headers)).json()["items"]
        assert [c["id"] for c in listed] == [connection["id"]]
        gone = await client.delete(f"/v1/shops/{connection['id']}", headers=headers)
        assert gone.status_code == 204
        assert (await client.get(f"/v1/shops/{connection['id']}", headers=headers)
                ).status_code == 404
        order = json.dumps(paid_order(1, "X")).encode()
        refused = await webhook(client, connection, "orders/paid", {}, signature=shop.sign(order))
        assert refused.status_code == 401


async def test_after_the_client_secret_is_rotated_webhooks_signed_with_either_are_taken(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with shopify_shop() as shop:
        shop.customer("ro@example.com")
        connection = await connect(client, tenant, shop)
        first = await give(client, db, tenant, email="ro@example.com")
        second = await give(client, db, tenant, email="ro@example.com", name="Second")
        await Worker(db, settings).run_until_idle()
        old = shop.client_secret
        rotated = await client.patch(f"/v1/shops/{connection['id']}",
                                     headers=bearer(tenant.admin_token), json={"secrets": {
                                         "client_secret": "rotated-secret",
                                         "previous_client_secret": old}})
        assert rotated.status_code == 200, rotated.text
        assert (await send(client, connection, shop, "orders/paid",
                           paid_order(1, first["code"]))).json() == {"outcome": "recorded"}
        shop.client_secret = "rotated-secret"
        assert (await send(client, connection, shop, "orders/paid",
                           paid_order(2, second["code"]))).json() == {"outcome": "recorded"}
        shop.client_secret = "someone-elses"
        forged = await send(client, connection, shop, "orders/paid", paid_order(3, "X"))
        assert forged.status_code == 401


async def test_a_code_used_at_a_till_is_deactivated_in_the_shop_and_a_void_gives_it_back(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    headers = bearer(tenant.admin_token)
    with shopify_shop() as shop:
        shop.customer("ti@example.com")
        await connect(client, tenant, shop)
        coupon = await give(client, db, tenant, email="ti@example.com")
        await Worker(db, settings).run_until_idle()
        discount = shop.by_code(coupon["code"])
        assert discount is not None
        assert discount.status() == "ACTIVE"
        redeemed = await client.post("/v1/redemptions", headers=headers, json={
            "code": coupon["code"], "customer_id": coupon["customer_id"],
            "order_id": "TILL-1", "order_amount": 4000, "store_id": "Lyon"})
        assert redeemed.status_code == 201, redeemed.text
        await Worker(db, settings).run_until_idle()
        assert discount.status() == "EXPIRED"  # the shop no longer takes it
        voided = await client.post(f"/v1/redemptions/{redeemed.json()['id']}/void",
                                   headers=headers, json={"reason": "refunded"})
        assert voided.status_code == 200, voided.text
        await Worker(db, settings).run_until_idle()
        assert discount.status() == "ACTIVE"
