from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from amends.kit import codes
from amends.kit.schema import Currency, Input, Money
from amends.models import Coupon, Redemption, Reservation

CodeText = Annotated[str, StringConstraints(min_length=1, max_length=80)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class SaleChannel(StrEnum):
    IN_STORE = "in_store"
    ONLINE = "online"


class ValidateRequest(Input):
    code: CodeText
    customer_id: Ref | None = Field(default=None, description="Checked when given")
    order_amount: Money = 0
    currency: Currency | None = None
    shipping_amount: Money | None = None


class RedeemRequest(Input):
    code: CodeText
    customer_id: Ref | None = Field(
        default=None, description="Required for coupons bound to their customer (the default)")
    order_id: Ref
    order_amount: Money
    currency: Currency | None = None
    channel: SaleChannel = SaleChannel.IN_STORE
    store_id: Ref | None = None
    till_id: Ref | None = None
    shipping_amount: Money | None = Field(
        default=None, description="free_shipping: this order's shipping cost")


class ReserveRequest(RedeemRequest):
    hold_minutes: int = Field(default=15, ge=1, le=120)


class VoidRequest(Input):
    reason: str = Field(min_length=1, max_length=1000)


class Validation(BaseModel):
    redeemable: bool = True
    code: str
    name: str
    kind: str
    value: int
    currency: str
    discount: int = Field(description="What it would take off this order (minor units)")
    balance: int | None
    expires_at: datetime
    bound_to_customer: bool
    terms: str

    @classmethod
    def of(cls, coupon: Coupon, discount: int) -> Validation:
        return cls(code=codes.display(coupon.code), name=coupon.name, kind=coupon.kind,
                   value=coupon.value, currency=coupon.currency, discount=discount,
                   balance=coupon.balance, expires_at=coupon.expires_at,
                   bound_to_customer=coupon.bound_to_customer, terms=coupon.terms)


class RedemptionOut(BaseModel):
    id: uuid.UUID
    coupon_id: uuid.UUID
    reservation_id: uuid.UUID | None
    order_id: str
    order_amount: int
    discount: int
    amount_due: int = Field(description="What the customer still pays")
    currency: str
    channel: str
    store_id: str | None
    till_id: str | None
    status: str
    created_at: datetime
    voided_at: datetime | None

    @classmethod
    def of(cls, r: Redemption) -> RedemptionOut:
        return cls(id=r.id, coupon_id=r.coupon_id, reservation_id=r.reservation_id,
                   order_id=r.order_id, order_amount=r.order_amount, discount=r.discount,
                   amount_due=r.order_amount - r.discount, currency=r.currency,
                   channel=r.channel, store_id=r.store_id, till_id=r.till_id, status=r.status,
                   created_at=r.created_at, voided_at=r.voided_at)


class ReservationOut(BaseModel):
    id: uuid.UUID
    coupon_id: uuid.UUID
    order_id: str
    order_amount: int
    status: str
    expires_at: datetime

    @classmethod
    def of(cls, r: Reservation) -> ReservationOut:
        return cls(id=r.id, coupon_id=r.coupon_id, order_id=r.order_id,
                   order_amount=r.order_amount, status=r.status, expires_at=r.expires_at)
