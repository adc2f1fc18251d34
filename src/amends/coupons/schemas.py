from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from amends.coupons import policy
from amends.customers.schemas import CustomerIn
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.schema import Input, Instant
from amends.models import Coupon

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    CHAT = "chat"
    PHONE = "phone"
    SOCIAL = "social"
    IN_STORE = "in_store"
    HELPDESK = "helpdesk"
    WEBHOOK = "webhook"
    COPY = "copy"


# Where a conversation with a customer happens, which is what a case's channel is: not the
# ways a message can be carried besides (a webhook to another system, a text the agent copies).
CONVERSATIONS: tuple[str, ...] = tuple(
    c.value for c in Channel if c not in (Channel.WEBHOOK, Channel.COPY))


class CouponIssue(Input):
    customer_id: ExternalId | None = Field(
        default=None, description="The organisation's own customer id (or give case_id)")
    case_id: uuid.UUID | None = Field(default=None, description="The case this gesture fixes")
    note: str | None = Field(default=None, max_length=1000,
                             description="Why, for the supervisor when approval is needed")
    customer: CustomerIn | None = Field(
        default=None, description="Customer details to create or update on the way")
    incentive_id: uuid.UUID
    case_reference: Annotated[str, StringConstraints(max_length=100)] | None = None
    channel: Channel | None = None
    deliver: bool = Field(default=True, description=(
        "Send it to the customer at once (on `channel`, else the case's conversation "
        "channel); nothing is sent when neither is known"))


class Reason(Input):
    reason: str = Field(min_length=1, max_length=1000)


class CouponReinstate(Reason):
    days: int | None = Field(default=None, ge=1, le=3650)
    expires_at: Instant | None = None
    notify: bool = Field(default=True, description="Tell the customer, in their language, on "
                         "the case's channel, that the gesture is valid again (or for longer)")


class CouponOut(BaseModel):
    id: uuid.UUID
    code: str = Field(description="Grouped for reading; any case, dashes or spaces are accepted")
    customer_id: str
    incentive_id: uuid.UUID
    case_reference: str | None
    name: str
    kind: str
    value: int
    currency: str
    min_order: int | None
    sku: str | None
    terms: str
    face_value: int
    bound_to_customer: bool
    status: str = Field(description="active, reserved, redeemed, revoked or expired")
    balance: int | None
    valid_from: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    revoked_at: datetime | None
    channel: str | None
    issued_by: str
    issued_at: datetime

    @classmethod
    def of(cls, coupon: Coupon) -> CouponOut:
        return cls(
            id=coupon.id, code=codes.display(coupon.code), customer_id=coupon.customer_external_id,
            incentive_id=coupon.incentive_id, case_reference=coupon.case_ref or None,
            name=coupon.name, kind=coupon.kind, value=coupon.value, currency=coupon.currency,
            min_order=coupon.min_order, sku=coupon.sku, terms=coupon.terms,
            face_value=coupon.face_value, bound_to_customer=coupon.bound_to_customer,
            status=policy.display_status(coupon.status, coupon.expires_at, utcnow(),
                                         coupon.reserved_until),
            balance=coupon.balance, valid_from=coupon.valid_from, expires_at=coupon.expires_at,
            redeemed_at=coupon.redeemed_at, revoked_at=coupon.revoked_at, channel=coupon.channel,
            issued_by=coupon.issued_by_label, issued_at=coupon.issued_at,
        )


class CouponPage(BaseModel):
    items: list[CouponOut]
    next_cursor: str | None


class LedgerEntryOut(BaseModel):
    """One movement of a gift card's balance, with the redemption it records."""

    id: uuid.UUID
    kind: str = Field(description="issue (the starting balance), debit (a redemption) or "
                      "credit (a void gave a debit back)")
    amount: int = Field(description="Minor units; negative for a debit")
    currency: str
    balance_after: int
    created_at: datetime
    redemption_id: uuid.UUID | None
    order_id: str | None
    store_id: str | None
    till_id: str | None
    channel: str | None
    voided_at: datetime | None = Field(description="When a debit was voided (its credit "
                                       "follows), else null")
    reason: str | None = Field(description="Why a credit was given: the void's reason")


class LedgerPage(BaseModel):
    items: list[LedgerEntryOut]
    next_cursor: str | None
