"""Pure rules of coupons: what a gesture is worth, what it takes off an order, when it ends."""

from __future__ import annotations

from datetime import datetime, timedelta

PERCENT_OFF, AMOUNT_OFF, FREE_SHIPPING, GIFT_CARD, FREE_ITEM = (
    "percent_off", "amount_off", "free_shipping", "gift_card", "free_item")
# Redeemed once and then used up; gift cards are debited, free shipping lasts a period.
SINGLE_USE_KINDS = (PERCENT_OFF, AMOUNT_OFF, FREE_ITEM)


def discount(kind: str, value: int, order_amount: int, *, balance: int | None = None,
             shipping_amount: int | None = None) -> int:
    """Minor units taken off an order of `order_amount` (never more than the order)."""
    if order_amount <= 0:
        return 0
    if kind == PERCENT_OFF:
        amount = (order_amount * value + 50) // 100  # half up
    elif kind == GIFT_CARD:
        amount = balance if balance is not None else value
    elif kind == FREE_SHIPPING:
        amount = shipping_amount if shipping_amount is not None else value
    else:  # amount_off, free_item
        amount = value
    return max(0, min(amount, order_amount))


def face_value(kind: str, value: int, *, average_order_value: int) -> int:
    """What a gesture is worth when given: a percentage is valued on the average order."""
    if kind == PERCENT_OFF:
        return (average_order_value * value + 50) // 100
    return value


def expiry(issued_at: datetime, *, validity_days: int | None,
           valid_until: datetime | None) -> datetime:
    """The end of validity: days after issue, a fixed date, or the earlier of both."""
    candidates = []
    if validity_days is not None:
        candidates.append(issued_at + timedelta(days=validity_days))
    if valid_until is not None:
        candidates.append(valid_until)
    if not candidates:
        raise ValueError("an incentive needs validity_days or valid_until")
    return min(candidates)


def display_status(status: str, expires_at: datetime, now: datetime,
                   reserved_until: datetime | None = None) -> str:
    """What to tell a person: active, reserved, redeemed, revoked or expired."""
    if status == "reserved" and reserved_until is not None and reserved_until <= now:
        status = "active"
    if status in ("active", "reserved") and expires_at <= now:
        return "expired"
    return status
