"""Local shops that speak the platforms' documented requests and responses, on 127.0.0.1.

`FakeShopify` serves the Admin GraphQL endpoint (`/admin/api/{version}/graphql.json`): every
document is parsed and validated against `SCHEMA`, the part of Shopify's Admin schema Amends
uses written down from the reference pages (a field or argument Shopify does not have fails
validation here as it would there), then executed. It keeps a leaky bucket per shop and
answers THROTTLED as Shopify does (https://shopify.dev/docs/apps/build/apis/graphql-admin/
rate-limits), with `extensions.cost` on every answer.

`FakeWooCommerce` serves `/wp-json/wc/v3/coupons` with Basic auth; bodies are checked against
the v3 coupon properties (https://woocommerce.github.io/woocommerce-rest-api-docs/#coupon-properties)
and errors answer `{"code", "message", "data": {"status"}}`.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from graphql import DocumentNode, GraphQLError, build_schema, execute_sync, parse, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from amends.integrations.shop_codes import base64_hmac_sha256

# The types Amends touches, as the 2026-10 reference pages define them (only the fields and
# arguments used or worth checking against; every name and type as documented).
SDL = """
scalar DateTime
scalar Decimal
scalar Date
scalar UnsignedInt64

enum DiscountBuyerSelection { ALL }
enum DiscountStatus { ACTIVE EXPIRED SCHEDULED }
enum DiscountErrorCode { BLANK INVALID TAKEN TOO_LONG VALUE_OUTSIDE_RANGE MISSING_ARGUMENT
  END_DATE_BEFORE_START_DATE MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT INTERNAL_ERROR }
enum GiftCardErrorCode { INVALID TAKEN TOO_SHORT TOO_LONG GREATER_THAN MISSING_ARGUMENT }

input DiscountCustomersInput { add: [ID!] remove: [ID!] }
input DiscountCustomerSegmentsInput { add: [ID!] remove: [ID!] }
input DiscountContextInput {
  all: DiscountBuyerSelection
  customers: DiscountCustomersInput
  customerSegments: DiscountCustomerSegmentsInput
}
input DiscountCustomerSelectionInput { all: Boolean customers: DiscountCustomersInput }
input DiscountAmountInput { amount: Decimal appliesOnEachItem: Boolean }
input DiscountCustomerGetsValueInput { percentage: Float discountAmount: DiscountAmountInput }
input DiscountItemsInput { all: Boolean }
input DiscountCustomerGetsInput { value: DiscountCustomerGetsValueInput items: DiscountItemsInput }
input DiscountMinimumSubtotalInput { greaterThanOrEqualToSubtotal: Decimal }
input DiscountMinimumQuantityInput { greaterThanOrEqualToQuantity: UnsignedInt64 }
input DiscountMinimumRequirementInput {
  subtotal: DiscountMinimumSubtotalInput
  quantity: DiscountMinimumQuantityInput
}
input DiscountCombinesWithInput {
  productDiscounts: Boolean orderDiscounts: Boolean shippingDiscounts: Boolean
}
input DiscountCodeBasicInput {
  title: String code: String startsAt: DateTime endsAt: DateTime
  context: DiscountContextInput customerSelection: DiscountCustomerSelectionInput
  customerGets: DiscountCustomerGetsInput minimumRequirement: DiscountMinimumRequirementInput
  usageLimit: Int appliesOncePerCustomer: Boolean combinesWith: DiscountCombinesWithInput
  recurringCycleLimit: Int
}
input DiscountShippingDestinationSelectionInput { all: Boolean }
input DiscountCodeFreeShippingInput {
  title: String code: String startsAt: DateTime endsAt: DateTime
  context: DiscountContextInput customerSelection: DiscountCustomerSelectionInput
  destination: DiscountShippingDestinationSelectionInput maximumShippingPrice: Decimal
  minimumRequirement: DiscountMinimumRequirementInput usageLimit: Int
  appliesOncePerCustomer: Boolean appliesOnOneTimePurchase: Boolean
  appliesOnSubscription: Boolean combinesWith: DiscountCombinesWithInput
  recurringCycleLimit: Int
}
input GiftCardCreateInput {
  initialValue: Decimal! code: String customerId: ID expiresOn: Date note: String
  templateSuffix: String
}
input GiftCardUpdateInput { expiresOn: Date note: String customerId: ID templateSuffix: String }
input CustomerIdentifierInput { emailAddress: String phoneNumber: String id: ID }

type DiscountUserError { code: DiscountErrorCode extraInfo: String field: [String!] message: String! }
type GiftCardUserError { code: GiftCardErrorCode field: [String!] message: String! }
type UserError { field: [String!] message: String! }
type GiftCardDeactivateUserError { code: String field: [String!] message: String! }

type DiscountCodeBasic {
  title: String! status: DiscountStatus! startsAt: DateTime! endsAt: DateTime
  asyncUsageCount: Int! usageLimit: Int appliesOncePerCustomer: Boolean!
}
type DiscountCodeFreeShipping {
  title: String! status: DiscountStatus! startsAt: DateTime! endsAt: DateTime
  asyncUsageCount: Int! usageLimit: Int appliesOncePerCustomer: Boolean!
}
union DiscountCode = DiscountCodeBasic | DiscountCodeFreeShipping
type DiscountCodeNode { id: ID! codeDiscount: DiscountCode! }
type MoneyV2 { amount: Decimal! currencyCode: String! }
type Customer { id: ID! }
type GiftCard {
  id: ID! enabled: Boolean! expiresOn: Date balance: MoneyV2! initialValue: MoneyV2!
  note: String customer: Customer
}

type DiscountCodeBasicCreatePayload { codeDiscountNode: DiscountCodeNode userErrors: [DiscountUserError!]! }
type DiscountCodeBasicUpdatePayload { codeDiscountNode: DiscountCodeNode userErrors: [DiscountUserError!]! }
type DiscountCodeFreeShippingCreatePayload { codeDiscountNode: DiscountCodeNode userErrors: [DiscountUserError!]! }
type DiscountCodeFreeShippingUpdatePayload { codeDiscountNode: DiscountCodeNode userErrors: [DiscountUserError!]! }
type DiscountCodeActivatePayload { codeDiscountNode: DiscountCodeNode userErrors: [DiscountUserError!]! }
type DiscountCodeDeactivatePayload { codeDiscountNode: DiscountCodeNode userErrors: [DiscountUserError!]! }
type DiscountCodeDeletePayload { deletedCodeDiscountId: ID userErrors: [DiscountUserError!]! }
type GiftCardCreatePayload { giftCard: GiftCard giftCardCode: String userErrors: [GiftCardUserError!]! }
type GiftCardUpdatePayload { giftCard: GiftCard userErrors: [UserError!]! }
type GiftCardDeactivatePayload { giftCard: GiftCard userErrors: [GiftCardDeactivateUserError!]! }

type Query {
  codeDiscountNodeByCode(code: String!): DiscountCodeNode
  giftCard(id: ID!): GiftCard
  customerByIdentifier(identifier: CustomerIdentifierInput!): Customer
}
type Mutation {
  discountCodeBasicCreate(basicCodeDiscount: DiscountCodeBasicInput!): DiscountCodeBasicCreatePayload
  discountCodeBasicUpdate(id: ID!, basicCodeDiscount: DiscountCodeBasicInput!): DiscountCodeBasicUpdatePayload
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: DiscountCodeFreeShippingInput!): DiscountCodeFreeShippingCreatePayload
  discountCodeFreeShippingUpdate(id: ID!, freeShippingCodeDiscount: DiscountCodeFreeShippingInput!): DiscountCodeFreeShippingUpdatePayload
  discountCodeActivate(id: ID!): DiscountCodeActivatePayload
  discountCodeDeactivate(id: ID!): DiscountCodeDeactivatePayload
  discountCodeDelete(id: ID!): DiscountCodeDeletePayload
  giftCardCreate(input: GiftCardCreateInput!): GiftCardCreatePayload
  giftCardUpdate(id: ID!, input: GiftCardUpdateInput!): GiftCardUpdatePayload
  giftCardDeactivate(id: ID!): GiftCardDeactivatePayload
}
"""  # noqa: E501
SCHEMA = build_schema(SDL)
_ids = itertools.count(1_000_000_001)
GIFT_CARD_CODE = re.compile(r"^[A-Za-z0-9]{8,20}$")


def _now() -> datetime:
    return datetime.now(UTC)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _user_error(field_path: list[str], code: str, message: str) -> dict[str, Any]:
    return {"field": field_path, "code": code, "message": message}


@functools.lru_cache(maxsize=256)
def _checked(query: str) -> DocumentNode | list[dict[str, Any]]:
    """The document parsed and validated against the schema (once per document text, as the
    client sends the same few), or the errors Shopify would answer."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return [error.formatted]
    problems = validate(SCHEMA, document)
    return [p.formatted for p in problems] if problems else document


@dataclass
class Discount:
    id: str
    typename: str
    fields: dict[str, Any]
    deactivated: bool = False
    used: int = 0

    @property
    def code(self) -> str:
        return str(self.fields["code"])

    def status(self) -> str:
        ends = _moment(self.fields.get("endsAt"))
        if self.deactivated or (ends is not None and ends <= _now()):
            return "EXPIRED"
        starts = _moment(self.fields.get("startsAt"))
        return "SCHEDULED" if starts is not None and starts > _now() else "ACTIVE"

    def node(self) -> dict[str, Any]:
        return {"id": self.id, "codeDiscount": {
            "__typename": self.typename, "title": self.fields.get("title"),
            "status": self.status(), "startsAt": self.fields.get("startsAt"),
            "endsAt": self.fields.get("endsAt"), "asyncUsageCount": self.used,
            "usageLimit": self.fields.get("usageLimit"),
            "appliesOncePerCustomer": bool(self.fields.get("appliesOncePerCustomer"))}}


@dataclass
class GiftCard:
    id: str
    code: str
    initial: str
    balance: str
    expires_on: str | None
    customer: str | None
    note: str | None
    enabled: bool = True

    def node(self) -> dict[str, Any]:
        return {"id": self.id, "enabled": self.enabled, "expiresOn": self.expires_on,
                "balance": {"amount": self.balance, "currencyCode": "EUR"},
                "initialValue": {"amount": self.initial, "currencyCode": "EUR"},
                "note": self.note, "customer": {"id": self.customer} if self.customer else None}


@dataclass
class FakeShopify:
    """One shop's Admin API. `bucket` and `restore_rate` are the leaky bucket (Standard plan:
    100 points a second); a mutation costs 10 points, a query 2 (Shopify computes costs from
    the document; these are its documented typical costs)."""

    token: str = "shpat_test_token"
    client_secret: str = "shopify-client-secret"
    customers: dict[str, str] = field(default_factory=dict)
    maximum: float = 1000.0
    restore_rate: float = 100.0
    throttle_status: int = 200
    # Points in the bucket at the first request (full unless said).
    initial: float | None = None
    discounts: dict[str, Discount] = field(default_factory=dict)
    gift_cards: dict[str, GiftCard] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    throttled: int = 0
    # HTTP statuses to answer before any work, in order (500, 503 ...).
    script: list[int] = field(default_factory=list)
    url: str = ""
    _available: float = -1.0
    _at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def customer(self, email: str) -> str:
        gid = f"gid://shopify/Customer/{next(_ids)}"
        self.customers[email.lower()] = gid
        return gid

    def by_code(self, code: str) -> Discount | None:
        return next((d for d in self.discounts.values() if d.code.lower() == code.lower()),
                    None)

    def sign(self, body: bytes) -> str:
        return base64_hmac_sha256(self.client_secret, body)

    # --- the leaky bucket -------------------------------------------------------------

    def _spend(self, cost: float) -> dict[str, Any] | None:
        """Take `cost` from the bucket, or the THROTTLED answer when it has not enough."""
        with self._lock:
            now = time.monotonic()
            if self._available < 0:
                self._available = self.maximum if self.initial is None else self.initial
                self._at = now
            self._available = min(self.maximum,
                                  self._available + (now - self._at) * self.restore_rate)
            self._at = now
            if self._available < cost:
                self.throttled += 1
                return {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": self._cost(cost, None)}}
            self._available -= cost
            return None

    def _cost(self, requested: float, actual: float | None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": {"maximumAvailable": self.maximum,
                                   "currentlyAvailable": int(self._available),
                                   "restoreRate": self.restore_rate}}

    # --- the endpoint -----------------------------------------------------------------

    async def endpoint(self, request: Request) -> Response:
        if request.headers.get("x-shopify-access-token") != self.token:
            return JSONResponse({"errors": "[API] Invalid API key or access token "
                                           "(unrecognized login or wrong password)"},
                                status_code=401)
        if self.script:
            return JSONResponse({"errors": "Internal error"}, status_code=self.script.pop(0))
        body = await request.json()
        self.requests.append(body)
        checked = _checked(body["query"])
        if isinstance(checked, list):
            return JSONResponse({"errors": checked})
        document = checked
        is_mutation = any(getattr(d, "operation", None) and d.operation.value == "mutation"
                          for d in document.definitions)
        cost = 10.0 if is_mutation else 2.0
        throttled = self._spend(cost)
        if throttled is not None:
            return JSONResponse(throttled, status_code=self.throttle_status)
        result = execute_sync(SCHEMA, document, root_value=_Root(self),
                              variable_values=body.get("variables") or {})
        answer: dict[str, Any] = {"data": result.data,
                                  "extensions": {"cost": self._cost(cost, cost)}}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        return JSONResponse(answer)

    async def stats(self, request: Request) -> Response:
        """What the shop holds and how often it throttled (for a bench in another process)."""
        return JSONResponse({"discounts": len(self.discounts), "throttled": self.throttled})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/admin/api/{version}/graphql.json", self.endpoint,
                                       methods=["POST"]),
                                 Route("/_stats", self.stats)])


class _Root:
    """The resolvers: each behaves as the mutation's reference page says."""

    def __init__(self, shop: FakeShopify) -> None:
        self.shop = shop

    def _create(self, data: dict[str, Any], typename: str, field_name: str,
                required: tuple[str, ...]) -> dict[str, Any]:
        errors = [_user_error([field_name, name], "BLANK", f"{name} can't be blank")
                  for name in required if data.get(name) in (None, "")]
        if data.get("context") is None and data.get("customerSelection") is None:
            errors.append(_user_error([field_name, "context"], "MISSING_ARGUMENT",
                                      "Context is required"))
        if data.get("context") is not None and data.get("customerSelection") is not None:
            errors.append(_user_error([field_name, "customerSelection"], "INVALID",
                                      "Only one of context or customerSelection is allowed"))
        context = data.get("context") or {}
        if len([k for k in context if context[k] is not None]) > 1:
            errors.append(_user_error([field_name, "context"], "INVALID",
                                      "Only one context may be given"))
        for gid in (context.get("customers") or {}).get("add") or []:
            if gid not in self.shop.customers.values():
                errors.append(_user_error([field_name, "context", "customers", "add"],
                                          "INVALID", f"Customer {gid} does not exist"))
        value = ((data.get("customerGets") or {}).get("value")) or {}
        if value.get("percentage") is not None and not 0 < value["percentage"] <= 1:
            errors.append(_user_error([field_name, "customerGets", "value", "percentage"],
                                      "VALUE_OUTSIDE_RANGE", "must be between 0 and 1"))
        minimum = data.get("minimumRequirement") or {}
        if minimum.get("subtotal") and minimum.get("quantity"):
            errors.append(_user_error(
                [field_name, "minimumRequirement"],
                "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT", "Only one minimum"))
        starts, ends = _moment(data.get("startsAt")), _moment(data.get("endsAt"))
        if starts and ends and ends <= starts:
            errors.append(_user_error([field_name, "endsAt"], "END_DATE_BEFORE_START_DATE",
                                      "Ends at needs to be after starts_at"))
        if data.get("code") and self.shop.by_code(data["code"]) is not None:
            errors.append(_user_error([field_name, "code"], "TAKEN",
                                      "Code must be unique. Please try a different code."))
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors}
        discount = Discount(id=f"gid://shopify/DiscountCodeNode/{next(_ids)}",
                            typename=typename, fields=dict(data))
        self.shop.discounts[discount.id] = discount
        return {"codeDiscountNode": discount.node(), "userErrors": []}

    def discountCodeBasicCreate(self, _info: Any, basicCodeDiscount: dict[str, Any]
                                ) -> dict[str, Any]:
        return self._create(basicCodeDiscount, "DiscountCodeBasic", "basicCodeDiscount",
                            ("title", "code", "startsAt", "customerGets"))

    def discountCodeFreeShippingCreate(self, _info: Any,
                                       freeShippingCodeDiscount: dict[str, Any]
                                       ) -> dict[str, Any]:
        return self._create(freeShippingCodeDiscount, "DiscountCodeFreeShipping",
                            "freeShippingCodeDiscount", ("title", "code", "startsAt"))

    def _update(self, id: str, data: dict[str, Any]) -> dict[str, Any]:
        discount = self.shop.discounts.get(id)
        if discount is None:
            return {"codeDiscountNode": None, "userErrors": [
                _user_error(["id"], "INVALID", "Discount does not exist")]}
        discount.fields.update(data)
        return {"codeDiscountNode": discount.node(), "userErrors": []}

    def discountCodeBasicUpdate(self, _info: Any, id: str,
                                basicCodeDiscount: dict[str, Any]) -> dict[str, Any]:
        return self._update(id, basicCodeDiscount)

    def discountCodeFreeShippingUpdate(self, _info: Any, id: str,
                                       freeShippingCodeDiscount: dict[str, Any]
                                       ) -> dict[str, Any]:
        return self._update(id, freeShippingCodeDiscount)

    def _switch(self, id: str, *, deactivated: bool) -> dict[str, Any]:
        discount = self.shop.discounts.get(id)
        if discount is None:
            return {"codeDiscountNode": None, "userErrors": [
                _user_error(["id"], "INVALID", "Discount does not exist")]}
        discount.deactivated = deactivated
        return {"codeDiscountNode": discount.node(), "userErrors": []}

    def discountCodeActivate(self, _info: Any, id: str) -> dict[str, Any]:
        return self._switch(id, deactivated=False)

    def discountCodeDeactivate(self, _info: Any, id: str) -> dict[str, Any]:
        return self._switch(id, deactivated=True)

    def discountCodeDelete(self, _info: Any, id: str) -> dict[str, Any]:
        found = self.shop.discounts.pop(id, None)
        return {"deletedCodeDiscountId": id if found else None, "userErrors": []}

    def giftCardCreate(self, _info: Any, input: dict[str, Any]
                       ) -> dict[str, Any]:
        code = input.get("code")
        if code is not None and not GIFT_CARD_CODE.match(code):
            return {"giftCard": None, "giftCardCode": None, "userErrors": [
                _user_error(["input", "code"], "INVALID",
                            "Code must be 8-20 letters and digits")]}
        if code and any(c.code.lower() == code.lower() for c in self.shop.gift_cards.values()):
            return {"giftCard": None, "giftCardCode": None, "userErrors": [
                _user_error(["input", "code"], "TAKEN", "Code has already been taken")]}
        card = GiftCard(id=f"gid://shopify/GiftCard/{next(_ids)}", code=code or "RANDOM00CODE",
                        initial=str(input["initialValue"]), balance=str(input["initialValue"]),
                        expires_on=input.get("expiresOn"), customer=input.get("customerId"),
                        note=input.get("note"))
        self.shop.gift_cards[card.id] = card
        return {"giftCard": card.node(), "giftCardCode": card.code, "userErrors": []}

    def giftCardUpdate(self, _info: Any, id: str, input: dict[str, Any]
                       ) -> dict[str, Any]:
        card = self.shop.gift_cards.get(id)
        if card is None:
            return {"giftCard": None, "userErrors": [{"field": ["id"],
                                                      "message": "Gift card not found"}]}
        if "expiresOn" in input:
            card.expires_on = input["expiresOn"]
        return {"giftCard": card.node(), "userErrors": []}

    def giftCardDeactivate(self, _info: Any, id: str) -> dict[str, Any]:
        card = self.shop.gift_cards.get(id)
        if card is None:
            return {"giftCard": None, "userErrors": [{"field": ["id"], "code": "NOT_FOUND",
                                                      "message": "Gift card not found"}]}
        card.enabled = False
        return {"giftCard": card.node(), "userErrors": []}

    def codeDiscountNodeByCode(self, _info: Any, code: str) -> dict[str, Any] | None:
        found = self.shop.by_code(code)
        return found.node() if found else None

    def giftCard(self, _info: Any, id: str) -> dict[str, Any] | None:
        card = self.shop.gift_cards.get(id)
        return card.node() if card else None

    def customerByIdentifier(self, _info: Any, identifier: dict[str, Any]
                             ) -> dict[str, Any] | None:
        gid = self.shop.customers.get(str(identifier.get("emailAddress") or "").lower())
        return {"id": gid} if gid else None


# --- WooCommerce -------------------------------------------------------------------------

# https://woocommerce.github.io/woocommerce-rest-api-docs/#coupon-properties (the writable
# ones, with their JSON types).
COUPON_PROPERTIES: dict[str, tuple[type, ...]] = {
    "code": (str,), "amount": (str,), "status": (str,), "discount_type": (str,),
    "description": (str,), "date_expires": (str, type(None)),
    "date_expires_gmt": (str, type(None)), "individual_use": (bool,),
    "product_ids": (list,), "excluded_product_ids": (list,), "usage_limit": (int, type(None)),
    "usage_limit_per_user": (int, type(None)), "limit_usage_to_x_items": (int, type(None)),
    "free_shipping": (bool,), "product_categories": (list,),
    "excluded_product_categories": (list,), "exclude_sale_items": (bool,),
    "minimum_amount": (str,), "maximum_amount": (str,), "email_restrictions": (list,),
    "meta_data": (list,),
}
DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
STATUSES = ("publish", "draft", "pending", "private", "future")
NUMERIC = re.compile(r"^\d+(\.\d+)?$")


def _woo_error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status}},
                        status_code=status)


def _schema_problem(body: Any) -> str | None:
    """What in a coupon body the v3 schema would refuse (`rest_invalid_param`)."""
    if not isinstance(body, dict):
        return "body is not an object"
    for name, value in body.items():
        types = COUPON_PROPERTIES.get(name)
        if types is None:
            return f"{name} is not a coupon property"
        if not isinstance(value, types) or (isinstance(value, bool) and int in types
                                            and bool not in types):
            return f"{name} is not of type {'/'.join(t.__name__ for t in types)}"
    if "discount_type" in body and body["discount_type"] not in DISCOUNT_TYPES:
        return "discount_type is not one of percent, fixed_cart, fixed_product"
    if "status" in body and body["status"] not in STATUSES:
        return "status is not a post status"
    for name in ("amount", "minimum_amount", "maximum_amount"):
        if name in body and not NUMERIC.match(body[name]):
            return f"{name} is not numeric"
    for moment in ("date_expires",):
        if body.get(moment) and not re.match(
                r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)?$", body[moment]):
            return f"{moment} is not a date-time"
    if not all(isinstance(e, str) and "@" in e for e in body.get("email_restrictions", [])):
        return "email_restrictions holds e-mail addresses"
    if not all(isinstance(m, dict) and set(m) <= {"id", "key", "value"}
               for m in body.get("meta_data", [])):
        return "meta_data holds {key, value} objects"
    return None


@dataclass
class FakeWooCommerce:
    consumer_key: str = "ck_test_key"
    consumer_secret: str = "cs_test_secret"
    webhook_secret: str = "woo-webhook-secret"
    coupons: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    # 429s to answer first, each with this Retry-After.
    rate_limited: int = 0
    retry_after: str = "1"
    limited_at: list[float] = field(default_factory=list)
    url: str = ""

    def by_code(self, code: str) -> dict[str, Any] | None:
        return next((c for c in self.coupons.values() if c["code"] == code.lower()), None)

    def sign(self, body: bytes) -> str:
        return base64_hmac_sha256(self.webhook_secret, body)

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(
            f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def _gate(self, request: Request) -> Response | None:
        if not self._authorised(request):
            return _woo_error("woocommerce_rest_authentication_error",
                              "Invalid signature - provided signature does not match.", 401)
        if self.rate_limited:
            self.rate_limited -= 1
            self.limited_at.append(time.monotonic())
            return Response("<html>Too Many Requests</html>", status_code=429,
                            headers={"Retry-After": self.retry_after,
                                     "content-type": "text/html"})
        return None

    def _shown(self, coupon: dict[str, Any]) -> dict[str, Any]:
        return {**coupon, "date_expires_gmt": coupon.get("date_expires_gmt")}

    async def coupons_route(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        if request.method == "GET":
            self.requests.append(("GET", str(request.url.query), None))
            code = request.query_params.get("code")
            found = [self._shown(c) for c in self.coupons.values()
                     if code is None or c["code"] == code.lower()]
            return JSONResponse(found)
        body = await request.json()
        self.requests.append(("POST", "/coupons", body))
        problem = _schema_problem(body)
        if problem is not None:
            return _woo_error("rest_invalid_param", f"Invalid parameter(s): {problem}", 400)
        if not body.get("code"):
            return _woo_error("woocommerce_rest_empty_coupon_code",
                              "The coupon code cannot be empty.", 400)
        if self.by_code(body["code"]) is not None:
            return _woo_error("woocommerce_rest_coupon_code_already_exists",
                              "The coupon code already exists", 400)
        coupon_id = len(self.coupons) + 700
        coupon = {"id": coupon_id, "status": "publish", "usage_count": 0, "used_by": [],
                  "discount_type": "fixed_cart", "email_restrictions": [],
                  "usage_limit": None, **body, "code": body["code"].lower()}
        if body.get("date_expires"):
            moment = _moment(body["date_expires"])
            assert moment is not None
            coupon["date_expires_gmt"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        self.coupons[coupon_id] = coupon
        return JSONResponse(self._shown(coupon), status_code=201,
                            headers={"Location": f"/wp-json/wc/v3/coupons/{coupon_id}"})

    async def coupon_route(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        coupon_id = int(request.path_params["coupon_id"])
        coupon = self.coupons.get(coupon_id)
        if request.method == "GET":
            if coupon is None:
                return _woo_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.",
                                  404)
            return JSONResponse(self._shown(coupon))
        body = await request.json()
        self.requests.append(("PUT", f"/coupons/{coupon_id}", body))
        if coupon is None:
            return _woo_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.", 400)
        problem = _schema_problem(body)
        if problem is not None:
            return _woo_error("rest_invalid_param", f"Invalid parameter(s): {problem}", 400)
        coupon.update(body)
        if body.get("date_expires"):
            moment = _moment(body["date_expires"])
            assert moment is not None
            coupon["date_expires_gmt"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return JSONResponse(self._shown(coupon))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/wp-json/wc/v3/coupons", self.coupons_route, methods=["GET", "POST"]),
            Route("/wp-json/wc/v3/coupons/{coupon_id:int}", self.coupon_route,
                  methods=["GET", "PUT"])])


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread of its own; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the local shop did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def shopify_shop(**options: Any) -> Iterator[FakeShopify]:
    shop = FakeShopify(**options)
    with serving(shop.app()) as url:
        shop.url = url
        yield shop


@contextmanager
def woocommerce_shop(**options: Any) -> Iterator[FakeWooCommerce]:
    shop = FakeWooCommerce(**options)
    with serving(shop.app()) as url:
        shop.url = url
        yield shop


def signed(body: dict[str, Any], sign: Any) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, sign(raw)
