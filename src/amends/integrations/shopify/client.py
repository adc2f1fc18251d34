"""Shopify's Admin GraphQL API: the discount codes and gift cards Amends pushes, the codes it
reads back, and the customer an e-mail names.

Endpoint and headers: `POST https://{shop}.myshopify.com/admin/api/{version}/graphql.json`
with `X-Shopify-Access-Token` (https://shopify.dev/docs/api/admin-graphql). A mutation whose
`userErrors` is not empty did not happen. Every response carries the query's cost and the
bucket's state (`extensions.cost.throttleStatus`); a throttled request answers
`errors[].extensions.code == "THROTTLED"` (HTTP 200, or 429 as Shopify's own client expects):
https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from amends.integrations.shop_codes import (
    FREE_SHIPPING,
    GIFT_CARD,
    PERCENT_OFF,
    CodeSpec,
    RemoteCode,
    ShopError,
)
from amends.integrations.shopify.documents import (
    ACTIVATE,
    CREATE_BASIC,
    CREATE_FREE_SHIPPING,
    CREATE_GIFT_CARD,
    CUSTOMER_BY_EMAIL,
    DEACTIVATE,
    DEACTIVATE_GIFT_CARD,
    FIND_CODE,
    FIND_GIFT_CARD,
    UPDATE_BASIC,
    UPDATE_FREE_SHIPPING,
    UPDATE_GIFT_CARD,
)
from amends.kit import http

# The latest stable version when this was written (the `latest` pages of shopify.dev carry
# api_version 2026-10); a connection may pin another in its settings.
API_VERSION = "2026-10"
# A mutation costs about 10 points (https://shopify.dev/docs/api/usage/limits): the budget to
# wait for before sending one.
MUTATION_COST = 10.0
# How long one call may wait for the bucket to refill before it gives the job back to the
# queue (which retries it later with backoff).
MAX_WAIT_SECONDS = 20.0

@dataclass
class _Bucket:
    """The shop's leaky bucket as its last response described it."""

    available: float
    maximum: float
    restore_rate: float
    seen_at: float

    def now_available(self) -> float:
        return min(self.maximum,
                   self.available + (time.monotonic() - self.seen_at) * self.restore_rate)


# Per shop, in this process: a cache that may be stale (another process spends the same
# bucket); Shopify's THROTTLED answer corrects it.
_buckets: dict[str, _Bucket] = {}


def forget_buckets() -> None:
    _buckets.clear()


def graphql_url(shop_url: str, api_version: str) -> str:
    return f"{shop_url.rstrip('/')}/admin/api/{api_version}/graphql.json"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _context(spec: CodeSpec) -> dict[str, Any]:
    """Who may use the code: the customer when the shop knows them, else anyone (still once).
    `context` replaced the deprecated `customerSelection` in 2025-10
    (https://shopify.dev/changelog/discount-eligibility-management)."""
    if spec.customer_ref:
        return {"customers": {"add": [spec.customer_ref]}}
    return {"all": "ALL"}


def _minimum(spec: CodeSpec) -> dict[str, Any] | None:
    if spec.min_order is None:
        return None
    # https://shopify.dev/docs/api/admin-graphql/latest/input-objects/DiscountMinimumSubtotalInput
    return {"subtotal": {"greaterThanOrEqualToSubtotal": spec.major(spec.min_order)}}


def basic_input(spec: CodeSpec) -> dict[str, Any]:
    """`DiscountCodeBasicInput` for a percentage or an amount off the order
    (https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/DiscountCodeBasicInput):
    `percentage` is a fraction (0.2 = 20 %); `discountAmount` with `appliesOnEachItem: false`
    takes the amount off the order once."""
    if spec.kind == PERCENT_OFF:
        value: dict[str, Any] = {"percentage": spec.value / 100}
    else:
        value = {"discountAmount": {"amount": spec.major(spec.value),
                                    "appliesOnEachItem": False}}
    body: dict[str, Any] = {
        "title": spec.title, "code": spec.code, "startsAt": _iso(spec.starts_at),
        "endsAt": _iso(spec.ends_at), "context": _context(spec),
        "customerGets": {"value": value, "items": {"all": True}},
        "usageLimit": 1, "appliesOncePerCustomer": True,
    }
    minimum = _minimum(spec)
    if minimum is not None:
        body["minimumRequirement"] = minimum
    return body


def free_shipping_input(spec: CodeSpec) -> dict[str, Any]:
    """`DiscountCodeFreeShippingInput` (https://shopify.dev/docs/api/admin-graphql/unstable/
    input-objects/DiscountCodeFreeShippingInput): every destination, once."""
    body: dict[str, Any] = {
        "title": spec.title, "code": spec.code, "startsAt": _iso(spec.starts_at),
        "endsAt": _iso(spec.ends_at), "context": _context(spec),
        "destination": {"all": True}, "usageLimit": 1, "appliesOncePerCustomer": True,
    }
    minimum = _minimum(spec)
    if minimum is not None:
        body["minimumRequirement"] = minimum
    return body


def gift_card_input(spec: CodeSpec) -> dict[str, Any]:
    """`GiftCardCreateInput` (https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/
    GiftCardCreateInput): a code of 8-20 letters and digits, `expiresOn` a date."""
    body: dict[str, Any] = {
        "initialValue": spec.major(spec.balance if spec.balance is not None else spec.value),
        "code": spec.code, "expiresOn": spec.ends_at.date().isoformat(), "note": spec.note,
    }
    if spec.customer_ref:
        body["customerId"] = spec.customer_ref
    return body


def _user_errors(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((payload or {}).get("userErrors") or [])


def _describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{'.'.join(str(f) for f in (e.get('field') or []))}: {e.get('message')}".lstrip(": ")
        for e in errors)[:900]


class Shopify:
    """One shop, with its Admin API access token."""

    def __init__(self, *, shop_url: str, access_token: str, api_version: str = API_VERSION,
                 max_wait: float = MAX_WAIT_SECONDS) -> None:
        self.shop_url = shop_url.rstrip("/")
        self.endpoint = graphql_url(shop_url, api_version)
        self.access_token = access_token
        self.max_wait = max_wait

    async def _wait_for(self, cost: float, waited: float) -> float:
        bucket = _buckets.get(self.shop_url)
        if bucket is None or bucket.restore_rate <= 0:
            return waited
        short = cost - bucket.now_available()
        if short <= 0:
            return waited
        delay = short / bucket.restore_rate
        if waited + delay > self.max_wait:
            raise ShopError("Shopify's rate limit: waiting for its bucket to refill",
                            retry=True, retry_after=delay)
        await asyncio.sleep(delay)
        return waited + delay

    def _note_cost(self, body: dict[str, Any]) -> dict[str, Any]:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if "currentlyAvailable" in status:
            _buckets[self.shop_url] = _Bucket(
                available=float(status["currentlyAvailable"]),
                maximum=float(status.get("maximumAvailable") or status["currentlyAvailable"]),
                restore_rate=float(status.get("restoreRate") or 0), seen_at=time.monotonic())
        return dict(cost)

    async def graphql(self, query: str, variables: dict[str, Any], *,
                      cost: float = MUTATION_COST) -> dict[str, Any]:
        """The query's `data`, once the bucket has room for it; THROTTLED answers wait for
        the bucket to refill (up to `max_wait` in all), other errors raise `ShopError`."""
        waited = 0.0
        while True:
            waited = await self._wait_for(cost, waited)
            try:
                response = await http.client().post(
                    self.endpoint, json={"query": query, "variables": variables},
                    headers={"X-Shopify-Access-Token": self.access_token,
                             "Content-Type": "application/json"})
            except httpx.HTTPError as error:
                raise ShopError(f"Shopify could not be reached: {error}", retry=True) from error
            if response.status_code in (429, 503) and not _is_json(response):
                delay = _retry_after(response) or 1.0
                if waited + delay > self.max_wait:
                    raise ShopError(f"Shopify is busy (HTTP {response.status_code})",
                                    retry=True, retry_after=delay)
                await asyncio.sleep(delay)
                waited += delay
                continue
            refusal = _http_refusal(response)
            if refusal is not None:
                raise refusal
            body = response.json()
            cost_info = self._note_cost(body)
            errors = body.get("errors") or []
            if isinstance(errors, list) and any(
                    (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                status = cost_info.get("throttleStatus") or {}
                needed = float(cost_info.get("requestedQueryCost") or cost)
                rate = float(status.get("restoreRate") or 50.0)
                delay = max(1.0, math.ceil(
                    (needed - float(status.get("currentlyAvailable") or 0)) / rate))
                if waited + delay > self.max_wait:
                    raise ShopError("Shopify throttled the request", retry=True,
                                    retry_after=delay)
                await asyncio.sleep(delay)
                waited += delay
                continue
            if errors:
                message = errors if isinstance(errors, str) else "; ".join(
                    str(e.get("message")) for e in errors)
                raise ShopError(f"Shopify refused the request: {message}"[:900], retry=False)
            return dict(body.get("data") or {})

    async def _mutate(self, query: str, variables: dict[str, Any], field: str
                      ) -> dict[str, Any]:
        payload = (await self.graphql(query, variables)).get(field) or {}
        errors = _user_errors(payload)
        if errors:
            raise ShopRefusedCode(_describe(errors),
                                  codes={str(e.get("code")) for e in errors})
        return dict(payload)

    async def create(self, spec: CodeSpec) -> str:
        """The new code's id (a `DiscountCodeNode` gid, or a `GiftCard` gid). A code the shop
        holds already (`TAKEN`: our earlier attempt got through before its answer was lost)
        is found by its code instead."""
        try:
            if spec.kind == GIFT_CARD:
                payload = await self._mutate(CREATE_GIFT_CARD, {"input": gift_card_input(spec)},
                                             "giftCardCreate")
                return str(payload["giftCard"]["id"])
            if spec.kind == FREE_SHIPPING:
                payload = await self._mutate(CREATE_FREE_SHIPPING,
                                             {"input": free_shipping_input(spec)},
                                             "discountCodeFreeShippingCreate")
            else:
                payload = await self._mutate(CREATE_BASIC, {"input": basic_input(spec)},
                                             "discountCodeBasicCreate")
        except ShopRefusedCode as refused:
            if "TAKEN" in refused.codes and spec.kind != GIFT_CARD:
                found = await self.find(spec)
                if found is not None:
                    return found.remote_id
            raise
        return str(payload["codeDiscountNode"]["id"])

    async def find(self, spec: CodeSpec, remote_id: str | None = None) -> RemoteCode | None:
        if spec.kind == GIFT_CARD:
            if remote_id is None:
                return None  # a gift card is found by its id only
            card = (await self.graphql(FIND_GIFT_CARD, {"id": remote_id}, cost=2)
                    ).get("giftCard")
            if not card:
                return None
            initial = card.get("initialValue") or {}
            balance = card.get("balance") or {}
            return RemoteCode(
                remote_id=str(card["id"]), active=bool(card.get("enabled")),
                ends_at=_date(card.get("expiresOn")),
                used=int(balance.get("amount") != initial.get("amount")),
                balance=str(balance["amount"]) if balance.get("amount") is not None else None)
        node = (await self.graphql(FIND_CODE, {"code": spec.code}, cost=2)
                ).get("codeDiscountNodeByCode")
        if not node:
            return None
        discount = node.get("codeDiscount") or {}
        return RemoteCode(remote_id=str(node["id"]), active=discount.get("status") == "ACTIVE",
                          ends_at=_datetime(discount.get("endsAt")),
                          used=int(discount.get("asyncUsageCount") or 0))

    async def deactivate(self, remote_id: str, spec: CodeSpec) -> None:
        if spec.kind == GIFT_CARD:
            await self._mutate(DEACTIVATE_GIFT_CARD, {"id": remote_id}, "giftCardDeactivate")
        else:
            await self._mutate(DEACTIVATE, {"id": remote_id}, "discountCodeDeactivate")

    async def update(self, remote_id: str, spec: CodeSpec) -> None:
        """Carry a new expiry (an extension or a reinstatement) and make the code usable."""
        if spec.kind == GIFT_CARD:
            await self._mutate(UPDATE_GIFT_CARD, {
                "id": remote_id, "input": {"expiresOn": spec.ends_at.date().isoformat()}},
                "giftCardUpdate")
            return
        if spec.kind == FREE_SHIPPING:
            await self._mutate(UPDATE_FREE_SHIPPING, {
                "id": remote_id, "input": {"endsAt": _iso(spec.ends_at)}},
                "discountCodeFreeShippingUpdate")
        else:
            await self._mutate(UPDATE_BASIC, {
                "id": remote_id, "input": {"endsAt": _iso(spec.ends_at)}},
                "discountCodeBasicUpdate")
        await self._mutate(ACTIVATE, {"id": remote_id}, "discountCodeActivate")

    async def customer_ref(self, email: str) -> str | None:
        found = (await self.graphql(CUSTOMER_BY_EMAIL, {"email": email}, cost=1)
                 ).get("customerByIdentifier")
        return str(found["id"]) if found else None


class ShopRefusedCode(ShopError):
    """The mutation answered `userErrors`: nothing was done."""

    def __init__(self, message: str, *, codes: set[str]) -> None:
        super().__init__(f"Shopify refused the code: {message}", retry=False)
        self.codes = codes


def _is_json(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("application/json")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _http_refusal(response: httpx.Response) -> ShopError | None:
    status = response.status_code
    if (status < 400 or status == 429) and _is_json(response):
        return None  # a JSON 429 says THROTTLED in its body
    if status in (401, 403):
        return ShopError(f"Shopify refused the access token (HTTP {status}): check it and "
                         "its scopes (write_discounts, write_gift_cards, read_customers)",
                         retry=False)
    if status == 402:
        return ShopError("Shopify says the shop is frozen or unpaid (HTTP 402)", retry=False)
    if status == 404:
        return ShopError("Shopify has no such shop or API version (HTTP 404)", retry=False)
    if status == 429 or status >= 500 or status < 400:
        return ShopError(f"Shopify answered HTTP {status}", retry=True,
                         retry_after=_retry_after(response))
    return ShopError(f"Shopify answered HTTP {status}", retry=False)


def _datetime(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _date(value: object) -> datetime | None:
    return datetime.fromisoformat(f"{value}T00:00:00+00:00") if value else None
