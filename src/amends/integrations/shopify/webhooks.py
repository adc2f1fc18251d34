"""Shopify's order webhooks: the signature and the payloads Amends reads.

Every delivery carries `X-Shopify-Hmac-Sha256`: base64(HMAC-SHA256(app client secret, raw
body)), checked before the body is parsed
(https://shopify.dev/docs/apps/build/webhooks/verify-deliveries). `X-Shopify-Topic` names the
event. Payloads (https://shopify.dev/docs/api/webhooks/latest): `orders/paid` and
`orders/cancelled` are the order itself (`id`, `currency`, `total_line_items_price`,
`subtotal_price`, `total_discounts`, `discount_codes: [{code, amount, type}]`, `cancelled_at`);
`refunds/create` is the refund (`order_id`, `transactions`). Ids exceed 2**53: they are read as
Python ints and kept as text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from amends.integrations.shop_codes import IGNORED, PAID, REVERSED, OrderEvent

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
TOPICS = ("orders/paid", "orders/cancelled", "refunds/create")


def order_event(topic: str, payload: dict[str, Any]) -> OrderEvent:
    """What the delivery of `topic` says (an `ignored` event for a topic Amends does not use
    or a payload without an order)."""
    if topic == "refunds/create":
        order_id = payload.get("order_id")
        if order_id is None:
            return OrderEvent(kind=IGNORED, order_id="")
        return OrderEvent(kind=REVERSED, order_id=str(order_id), reason="refunded in Shopify")
    order_id = payload.get("id")
    if order_id is None or topic not in TOPICS:
        return OrderEvent(kind=IGNORED, order_id=str(order_id or ""))
    if topic == "orders/cancelled":
        return OrderEvent(kind=REVERSED, order_id=str(order_id),
                          reason="order cancelled in Shopify")
    codes = tuple((str(d.get("code") or ""), str(d.get("amount") or "0"))
                  for d in payload.get("discount_codes") or [] if isinstance(d, dict))
    if payload.get("total_line_items_price") is not None:
        amount = Decimal(str(payload["total_line_items_price"]))
    else:
        amount = Decimal(str(payload.get("subtotal_price") or 0)) + \
            Decimal(str(payload.get("total_discounts") or 0))
    return OrderEvent(kind=PAID, order_id=str(order_id), codes=codes,
                      currency=str(payload.get("currency") or ""), amount=str(amount))
