from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from amends.kit.schema import Currency, Input, Instant, Money, Patch, PositiveMoney


class IncentiveKind(StrEnum):
    PERCENT_OFF = "percent_off"
    AMOUNT_OFF = "amount_off"
    FREE_SHIPPING = "free_shipping"
    GIFT_CARD = "gift_card"
    FREE_ITEM = "free_item"


Reason = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,50}$")]


class IncentiveBase(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: IncentiveKind
    value: PositiveMoney = Field(description=(
        "percent_off: percent (1-100); amount_off, gift_card, free_item, free_shipping: "
        "minor units (the discount, the balance, the item's price, one shipment's cost)"))
    currency: Currency
    min_order: Money | None = None
    sku: str | None = Field(default=None, max_length=100, description="free_item only")
    validity_days: int | None = Field(default=None, ge=1, le=3650)
    valid_until: Instant | None = None
    terms: str = Field(default="", max_length=5000)
    reasons: list[Reason] = Field(default_factory=list, max_length=100)
    bound_to_customer: bool = True
    code_pool_id: uuid.UUID | None = None
    active: bool = True


class IncentiveCreate(IncentiveBase):
    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_terms(self)
        return self


class IncentiveUpdate(Patch):
    clearable = frozenset({"min_order", "sku", "validity_days", "valid_until", "code_pool_id"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    value: PositiveMoney | None = None
    min_order: Money | None = None
    sku: str | None = Field(default=None, max_length=100)
    validity_days: int | None = Field(default=None, ge=1, le=3650)
    valid_until: Instant | None = None
    terms: str | None = Field(default=None, max_length=5000)
    reasons: list[Reason] | None = Field(default=None, max_length=100)
    bound_to_customer: bool | None = None
    code_pool_id: uuid.UUID | None = None
    active: bool | None = None


class IncentiveOut(IncentiveBase):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


def check_terms(terms: IncentiveBase) -> None:
    """Rules an incentive's terms obey whether created or edited (raises ValueError)."""
    if terms.kind == IncentiveKind.PERCENT_OFF and terms.value > 100:
        raise ValueError("a percent_off value is a percentage, 1 to 100")
    if terms.kind == IncentiveKind.FREE_ITEM and not terms.sku:
        raise ValueError("a free_item needs the sku of the item")
    if terms.validity_days is None and terms.valid_until is None:
        raise ValueError("give validity_days or valid_until")
    if terms.valid_until is not None and terms.valid_until.tzinfo is None:
        raise ValueError("valid_until needs a time zone")
