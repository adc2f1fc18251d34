"""WooCommerce's order webhooks: the signature and the payload Amends reads.

Set in `WC_Webhook::deliver()` (woocommerce `includes/class-wc-webhook.php`;
https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks): `X-WC-Webhook-Signature`
is base64(HMAC-SHA256(webhook secret, raw body)), `X-WC-Webhook-Topic` names the event
(`order.updated` fires on every save of an order, refunds included). When a webhook is saved,
WooCommerce pings the address with the form body `webhook_id=<id>`, no signature, and needs
exactly HTTP 200. The payload is the order as `GET /wc/v3/orders/{id}` shows it: `id`,
`status` (pending, processing, on-hold, completed, cancelled, refunded, failed, trash),
`currency`, `date_paid_gmt`, `discount_total`, `total`, `line_items[].subtotal`,
`coupon_lines: [{code (lower case), discount}]`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from amends.integrations.shop_codes import IGNORED, PAID, REVERSED, OrderEvent

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
TOPICS = ("order.created", "order.updated")
PAID_STATUSES = ("processing", "completed")
REVERSED_STATUSES = ("cancelled", "refunded", "failed")


def is_ping(body: bytes, signature: str | None) -> bool:
    return not signature and body.startswith(b"webhook_id=")


def order_event(topic: str, payload: dict[str, Any]) -> OrderEvent:
    order_id = payload.get("id")
    if topic not in TOPICS or order_id is None:
        return OrderEvent(kind=IGNORED, order_id=str(order_id or ""))
    status = str(payload.get("status") or "")
    if status in REVERSED_STATUSES:
        return OrderEvent(kind=REVERSED, order_id=str(order_id),
                          reason=f"order {status} in WooCommerce")
    if status not in PAID_STATUSES and not payload.get("date_paid_gmt"):
        return OrderEvent(kind=IGNORED, order_id=str(order_id))  # not paid yet
    codes = tuple((str(line.get("code") or ""), str(line.get("discount") or "0"))
                  for line in payload.get("coupon_lines") or [] if isinstance(line, dict))
    lines = [line for line in payload.get("line_items") or [] if isinstance(line, dict)]
    if lines:
        amount = sum((Decimal(str(line.get("subtotal") or 0)) for line in lines), Decimal(0))
    else:
        amount = Decimal(str(payload.get("total") or 0)) + \
            Decimal(str(payload.get("discount_total") or 0))
    return OrderEvent(kind=PAID, order_id=str(order_id), codes=codes,
                      currency=str(payload.get("currency") or ""), amount=str(amount))
