"""A shop's order webhooks: a paid order that used a pushed code records the redemption, as
a till's would (channel `online`, the shop's order id, what the shop took off); a cancelled
or refunded order voids it.

Idempotent by the shop's order id: one `shop_orders` row per order and code, inserted before
the redemption (`INSERT ... ON CONFLICT DO NOTHING`), so a webhook delivered twice, or twice
at once, records one redemption. A redemption Amends refuses (the coupon was withdrawn or used
at a till meanwhile) is kept on that row with the reason, and the shop still gets its 200:
asking again would not change the answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.errors import AmendsError, NotAuthenticated, ValidationFailed
from amends.integrations import shop_codes
from amends.integrations.shop_codes import PAID, REVERSED, OrderEvent, minor_of
from amends.integrations.shopify import webhooks as shopify
from amends.integrations.woocommerce import webhooks as woocommerce
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.sql import insert_new
from amends.models import Coupon, ShopCode, ShopConnection, ShopOrder
from amends.redemptions import service as redemptions

TITLES = {"shopify": "Shopify", "woocommerce": "WooCommerce"}
# The secrets a delivery's signature may be made with (a rotated Shopify client secret's
# predecessor too, for the hour Shopify takes to move).
SECRETS_OF = {"shopify": ("client_secret", "previous_client_secret"),
              "woocommerce": ("webhook_secret",)}
NOTE_CHARS = 1000


class ShopWebhookRefused(NotAuthenticated):
    """The delivery's signature is missing or wrong, or names no connected shop."""

    code, title = "shop_webhook_refused", "The shop's signature is not valid"


class InvalidShopWebhook(ValidationFailed):
    code, title = "invalid_shop_webhook", "The webhook's body is not an order Amends can read"


async def _connection(session: AsyncSession, connection_id: uuid.UUID, platform: str
                      ) -> ShopConnection:
    # The shop knows no organisation: the connection is found by its id alone (indexed).
    connection = await session.scalar(select(ShopConnection).where(
        ShopConnection.id == connection_id))
    if connection is None or connection.platform != platform or not connection.active:
        raise ShopWebhookRefused()
    return connection


async def receive(session: AsyncSession, *, connection_id: uuid.UUID, platform: str,
                  body: bytes, headers: Mapping[str, str]) -> str:
    """Check the delivery's signature against the raw body, then act on the order. Returns
    what was done: `ping`, `ignored`, `recorded` or `voided`."""
    connection = await _connection(session, connection_id, platform)
    module = shopify if platform == "shopify" else woocommerce
    signature = headers.get(module.SIGNATURE_HEADER)
    if platform == "woocommerce" and woocommerce.is_ping(body, signature):
        return "ping"  # WooCommerce checks the address when the webhook is saved
    secrets = [str(connection.secrets.get(name) or "") for name in SECRETS_OF[platform]]
    if not any(shop_codes.signature_matches(secret, body, signature) for secret in secrets):
        raise ShopWebhookRefused()
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise InvalidShopWebhook("The body is not JSON.") from error
    if not isinstance(payload, dict):
        raise InvalidShopWebhook("The body is not a JSON object.")
    event = module.order_event(str(headers.get(module.TOPIC_HEADER) or ""), payload)
    if event.kind == PAID:
        return "recorded" if await _paid(session, connection, event) else "ignored"
    if event.kind == REVERSED:
        return "voided" if await _reversed(session, connection, event) else "ignored"
    return "ignored"


def _actor(connection: ShopConnection) -> Actor:
    return Actor.system(connection.organization_id, TITLES[connection.platform])


async def _set(session: AsyncSession, row: ShopOrder, **values: object) -> None:
    await session.execute(update(ShopOrder).where(
        ShopOrder.organization_id == row.organization_id, ShopOrder.id == row.id)
        .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False))


async def _paid(session: AsyncSession, connection: ShopConnection, event: OrderEvent) -> int:
    actor = _actor(connection)
    recorded = 0
    for text, discount in event.codes:
        coupon = await redemptions.find_by_code(session, actor, text)
        if coupon is None:
            continue  # the shop's own code, not one of ours
        pushed = await session.scalar(select(ShopCode.id).where(
            ShopCode.organization_id == connection.organization_id,
            ShopCode.connection_id == connection.id, ShopCode.coupon_id == coupon.id))
        if pushed is None:
            continue
        row = await insert_new(session, ShopOrder, key={
            "organization_id": connection.organization_id, "connection_id": connection.id,
            "order_id": event.order_id[:100], "coupon_id": coupon.id},
            values={"id": new_id(), "status": "recording", "created_at": utcnow(),
                    "updated_at": utcnow()})
        if row is None:
            continue  # delivered before
        currency = (event.currency or coupon.currency).upper()
        try:
            order = redemptions.Order(
                code=coupon.code, order_amount=minor_of(event.amount, currency),
                customer_external_id=coupon.customer_external_id, currency=currency,
                order_id=event.order_id[:100], channel="online",
                store_id=(urlsplit(connection.shop_url).hostname or connection.name)[:100],
                discount=minor_of(discount, currency))
            async with session.begin_nested():
                redemption = await redemptions.redeem(session, actor, order)
        except (AmendsError, ArithmeticError, ValueError) as refused:
            note = refused.detail if isinstance(refused, AmendsError) else str(refused)
            await _set(session, row, status="refused", note=(note or "refused")[:NOTE_CHARS])
            continue
        await _set(session, row, status="redeemed", redemption_id=redemption.id)
        recorded += 1
    return recorded


async def _reversed(session: AsyncSession, connection: ShopConnection, event: OrderEvent
                    ) -> int:
    actor = _actor(connection)
    rows = (await session.scalars(select(ShopOrder).where(
        ShopOrder.organization_id == connection.organization_id,
        ShopOrder.connection_id == connection.id, ShopOrder.order_id == event.order_id[:100],
        ShopOrder.status == "redeemed"))).all()
    voided = 0
    for row in rows:
        if row.redemption_id is not None:
            try:
                async with session.begin_nested():
                    await redemptions.void(session, actor, redemption_id=row.redemption_id,
                                           reason=event.reason)
            except redemptions.RedemptionAlreadyVoided:
                pass  # voided by hand already
        await _set(session, row, status="voided", note=event.reason[:NOTE_CHARS])
        voided += 1
    return voided


async def record_gift_card_spend(session: AsyncSession, connection: ShopConnection,
                                 coupon: Coupon, *, shop_balance: str) -> bool:
    """A Shopify gift card is spent as a payment, which no discount webhook reports: when the
    shop's balance (read back by the reconciliation) is below Amends', the difference is
    recorded as one online debit. Idempotent by the balances themselves: once recorded,
    Amends' balance is the shop's and the next reading records nothing."""
    if coupon.balance is None:
        return False
    spent = coupon.balance - minor_of(shop_balance, coupon.currency)
    if spent <= 0:
        return False
    order = redemptions.Order(
        code=coupon.code, order_amount=spent, customer_external_id=coupon.customer_external_id,
        currency=coupon.currency, order_id=f"{TITLES[connection.platform]} gift card",
        channel="online",
        store_id=(urlsplit(connection.shop_url).hostname or connection.name)[:100],
        discount=spent)
    try:
        async with session.begin_nested():
            await redemptions.redeem(session, _actor(connection), order)
    except AmendsError:
        return False  # withdrawn or expired in Amends meanwhile: nothing to debit
    return True
