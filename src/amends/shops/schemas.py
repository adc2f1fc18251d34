from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from amends.kit.schema import Input
from amends.models import ShopCode

Platform = Literal["shopify", "woocommerce"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Secrets = dict[Annotated[str, StringConstraints(min_length=1, max_length=50)],
               Annotated[str, StringConstraints(min_length=1, max_length=2_000)] | None]


class ShopSettings(Input):
    """Shopify only: the Admin API version Amends calls (`2026-10` unless pinned)."""

    api_version: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")] | None = None


class ShopIn(Input):
    """A shop to push gestures into. `shop_url` is the shop's address
    (`https://cool-store.myshopify.com`, `https://shop.example`); `secrets` are Shopify's
    `access_token` and `client_secret`, or WooCommerce's `consumer_key`, `consumer_secret`
    and `webhook_secret`: never shown back."""

    platform: Platform
    shop_url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4,
                                               max_length=300)]
    name: Name = ""
    settings: ShopSettings = Field(default_factory=ShopSettings)
    secrets: Secrets = Field(default_factory=dict, max_length=10)


class ShopPatch(Input):
    name: Name | None = None
    active: bool | None = None
    settings: ShopSettings | None = None
    secrets: Secrets | None = Field(default=None, max_length=10)


class ShopOut(BaseModel):
    id: str
    platform: str
    shop_url: str
    name: str
    active: bool
    settings: dict[str, Any]
    secrets_set: list[str]
    last_error: str | None
    last_error_at: datetime | None
    last_reconciled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    webhook_url: str
    codes: dict[str, int]


class ShopList(BaseModel):
    items: list[ShopOut]


class ShopCodeOut(BaseModel):
    coupon_id: str
    code: str
    status: str
    remote_id: str | None
    last_error: str | None
    attempts: int
    updated_at: datetime

    @classmethod
    def of(cls, row: ShopCode) -> ShopCodeOut:
        return cls(coupon_id=str(row.coupon_id), code=row.code, status=row.status,
                   remote_id=row.remote_id, last_error=row.last_error, attempts=row.attempts,
                   updated_at=row.updated_at)


class ShopCodePage(BaseModel):
    items: list[ShopCodeOut]
    next_cursor: str | None


class WebhookAnswer(BaseModel):
    outcome: Literal["ping", "ignored", "recorded", "voided"]


class CustomerLinkIn(Input):
    """The customer's id in the Shopify shop (`gid://shopify/Customer/…` or the number)."""

    shop_customer_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                       max_length=200)]


class CustomerLinkOut(BaseModel):
    customer_id: str
    shop_customer_id: str
