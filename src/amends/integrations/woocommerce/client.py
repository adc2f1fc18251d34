"""WooCommerce's REST API v3: the coupons Amends pushes and reads back.

Base `{store}/wp-json/wc/v3/`, HTTP Basic with the consumer key and secret over HTTPS
(https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication). Coupons
(https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons): `POST /coupons` answers 201
with the coupon; `GET /coupons?code=` finds one by its code (an empty list when none);
`PUT /coupons/{id}` changes some fields. WooCommerce stores codes in lower case. Amounts are
decimal strings; `date_expires` is sent with an explicit offset (`Z`), which WooCommerce reads
as UTC (a bare local time would be read in the site's time zone). Errors answer
`{"code", "message", "data": {"status"}}`; a code taken already answers 400
`woocommerce_rest_coupon_code_already_exists`. WooCommerce itself sets no rate limit, but the
host in front of it may answer 429 with `Retry-After`, which is honoured.
"""

from __future__ import annotations

import asyncio
import email.utils
from datetime import UTC, datetime
from typing import Any

import httpx

from amends.integrations.shop_codes import (
    AMOUNT_OFF,
    FREE_SHIPPING,
    GIFT_CARD,
    PERCENT_OFF,
    CodeSpec,
    RemoteCode,
    ShopError,
)
from amends.kit import http

MAX_WAIT_SECONDS = 20.0
CODE_EXISTS = "woocommerce_rest_coupon_code_already_exists"


def coupon_body(spec: CodeSpec) -> dict[str, Any]:
    """The coupon as the v3 coupon schema has it: once, by one customer (their billing
    e-mail), until the coupon's expiry, above its minimum order. A gift card is a fixed cart
    amount of its balance."""
    if spec.kind == PERCENT_OFF:
        discount_type, amount = "percent", str(spec.value)
    elif spec.kind == FREE_SHIPPING:
        discount_type, amount = "fixed_cart", "0"
    elif spec.kind == GIFT_CARD:
        discount_type = "fixed_cart"
        amount = spec.major(spec.balance if spec.balance is not None else spec.value)
    else:
        discount_type, amount = "fixed_cart", spec.major(spec.value)
    body: dict[str, Any] = {
        "code": spec.code.lower(), "discount_type": discount_type, "amount": amount,
        "individual_use": False, "usage_limit": 1, "usage_limit_per_user": 1,
        "date_expires": spec.ends_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "free_shipping": spec.kind == FREE_SHIPPING, "description": spec.title,
        "meta_data": [{"key": "_amends", "value": spec.note}],
    }
    if spec.email:
        body["email_restrictions"] = [spec.email]
    if spec.min_order is not None:
        body["minimum_amount"] = spec.major(spec.min_order)
    return body


class WooCommerce:
    """One store, with a REST API key (Read/Write)."""

    def __init__(self, *, shop_url: str, consumer_key: str, consumer_secret: str,
                 max_wait: float = MAX_WAIT_SECONDS) -> None:
        self.base = f"{shop_url.rstrip('/')}/wp-json/wc/v3"
        self.auth = httpx.BasicAuth(consumer_key, consumer_secret)
        self.max_wait = max_wait

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, Any] | None = None) -> Any:
        waited = 0.0
        while True:
            try:
                response = await http.client().request(
                    method, f"{self.base}{path}", json=json, params=params, auth=self.auth)
            except httpx.HTTPError as error:
                raise ShopError(f"WooCommerce could not be reached: {error}",
                                retry=True) from error
            if response.status_code == 429:
                delay = _retry_after(response)
                if waited + delay > self.max_wait:
                    raise ShopError("WooCommerce's host is rate limiting (HTTP 429)",
                                    retry=True, retry_after=delay)
                await asyncio.sleep(delay)
                waited += delay
                continue
            if response.status_code >= 400:
                raise _refusal(response)
            try:
                return response.json()
            except ValueError as error:
                raise ShopError(f"WooCommerce answered HTTP {response.status_code} without "
                                "JSON", retry=True) from error

    async def create(self, spec: CodeSpec) -> str:
        """The new coupon's id; a code the store holds already (our earlier attempt got
        through before its answer was lost) is found by its code instead."""
        try:
            created = await self.request("POST", "/coupons", json=coupon_body(spec))
        except WooRefused as refused:
            if refused.code == CODE_EXISTS:
                found = await self.find(spec)
                if found is not None:
                    return found.remote_id
            raise
        return str(created["id"])

    async def find(self, spec: CodeSpec, remote_id: str | None = None) -> RemoteCode | None:
        found = await self.request("GET", "/coupons", params={"code": spec.code.lower()})
        if not isinstance(found, list) or not found:
            return None
        coupon = found[0]
        expires = coupon.get("date_expires_gmt") or coupon.get("date_expires")
        ends_at = (datetime.fromisoformat(str(expires)).replace(tzinfo=UTC)
                   if expires else None)
        used = int(coupon.get("usage_count") or 0)
        limit = coupon.get("usage_limit")
        active = coupon.get("status", "publish") == "publish" and \
            (ends_at is None or ends_at > datetime.now(UTC)) and \
            (limit is None or used < int(limit))
        return RemoteCode(remote_id=str(coupon["id"]), active=active, ends_at=ends_at,
                          used=used)

    async def deactivate(self, remote_id: str, spec: CodeSpec) -> None:
        """A withdrawn code is made a draft (checkout refuses it; its history stays)."""
        await self.request("PUT", f"/coupons/{remote_id}", json={"status": "draft"})

    async def update(self, remote_id: str, spec: CodeSpec) -> None:
        body = {"status": "publish",
                "date_expires": spec.ends_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if spec.kind in (GIFT_CARD, AMOUNT_OFF) and spec.balance is not None:
            body["amount"] = spec.major(spec.balance)
        await self.request("PUT", f"/coupons/{remote_id}", json=body)

    async def customer_ref(self, email: str) -> str | None:
        return email  # coupons are restricted by the billing e-mail itself


class WooRefused(ShopError):
    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, retry=status >= 500)
        self.code = code
        self.status = status


def _retry_after(response: httpx.Response) -> float:
    """`Retry-After` in seconds or as an HTTP date (RFC 9110), else the Store API's
    `RateLimit-Retry-After`, else a second."""
    for name in ("Retry-After", "RateLimit-Retry-After"):
        value = response.headers.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            if when is not None:
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return 1.0


def _refusal(response: httpx.Response) -> ShopError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ShopError(f"WooCommerce answered HTTP {status}", retry=status >= 500)
    code, message = str(body.get("code") or ""), str(body.get("message") or "")
    if status == 401:
        message = f"{message} (check the consumer key and secret, with Read/Write access)"
    return WooRefused(f"WooCommerce refused: {message} ({code}, HTTP {status})"[:900],
                      code=code, status=status)
