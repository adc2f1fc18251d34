"""What a shop is asked to hold for a gesture, and how a shop's answer can fail: shared by the
Shopify and WooCommerce clients, which know nothing of the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from amends.kit.money import minor_digits

PERCENT_OFF, AMOUNT_OFF, FREE_SHIPPING, GIFT_CARD, FREE_ITEM = (
    "percent_off", "amount_off", "free_shipping", "gift_card", "free_item")


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """A single-use code as Amends wants the shop to hold it.

    `value` is a percentage (`percent_off`) or minor units; `balance` what is left on a gift
    card. `customer_ref` is the customer's id in the shop (Shopify's customer gid), `email`
    the address checkout is restricted to (WooCommerce)."""

    code: str
    title: str
    kind: str
    value: int
    currency: str
    min_order: int | None
    starts_at: datetime
    ends_at: datetime
    customer_ref: str | None = None
    email: str | None = None
    balance: int | None = None
    note: str = ""

    def major(self, minor: int) -> str:
        """Minor units as the decimal string both shops take (`"10.00"`)."""
        digits = minor_digits(self.currency)
        return str((Decimal(minor) / (Decimal(10) ** digits)).quantize(
            Decimal(1) / (Decimal(10) ** digits)))


@dataclass(frozen=True, slots=True)
class RemoteCode:
    """A code as the shop reports it: `active` false when deactivated, expired or used up."""

    remote_id: str
    active: bool
    ends_at: datetime | None
    used: int
    # A gift card's balance as the shop says (a decimal string).
    balance: str | None = None


class ShopError(Exception):
    """The shop did not do what was asked. `retry` says whether asking again later may work
    (rate limits, 5xx, the network); otherwise the shop refused (bad credentials, a code it
    rejects) and the error is shown to people as it is."""

    def __init__(self, message: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


class ShopClient(Protocol):
    """What the push, the sync and the reconciliation ask of a shop."""

    async def create(self, spec: CodeSpec) -> str: ...

    async def find(self, spec: CodeSpec, remote_id: str | None = None
                   ) -> RemoteCode | None: ...

    async def deactivate(self, remote_id: str, spec: CodeSpec) -> None: ...

    async def update(self, remote_id: str, spec: CodeSpec) -> None: ...

    async def customer_ref(self, email: str) -> str | None: ...


def minor_of(amount: object, currency: str) -> int:
    """A shop's decimal amount (`"10.00"`, or a JSON number) in minor units."""
    digits = minor_digits(currency)
    return int((Decimal(str(amount)) * (Decimal(10) ** digits)).to_integral_value())


def base64_hmac_sha256(secret: str, body: bytes) -> str:
    """Both shops sign a webhook's raw body as base64(HMAC-SHA256(secret, body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(secret: str, body: bytes, given: str | None) -> bool:
    if not secret or not given:
        return False
    return hmac.compare_digest(base64_hmac_sha256(secret, body).encode(), given.strip().encode())


PAID, REVERSED, IGNORED = "paid", "reversed", "ignored"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """What a shop's order webhook says about codes: an order `paid` with `codes` (each code
    as the order spells it, and the discount it gave, in the shop's decimal form), an order
    `reversed` (cancelled or refunded), or nothing Amends acts on (`ignored`).

    `amount` is the order before its discounts (what a minimum order is checked against)."""

    kind: str
    order_id: str
    codes: tuple[tuple[str, str], ...] = ()
    currency: str = ""
    amount: str = "0"
    reason: str = ""
