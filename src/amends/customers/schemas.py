from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from amends.kit.locale import LocaleTag, TimeZoneName
from amends.kit.schema import Currency, Input, Money

Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]


class CustomerIn(Input):
    email: EmailStr | None = None
    phone: Phone | None = Field(default=None, description="E.164, e.g. +447700900123")
    name: str | None = Field(default=None, max_length=200)
    locale: LocaleTag | None = Field(
        default=None, description="BCP 47, e.g. fr-FR: the language of every message and page "
        "the customer reads (falls back fr-CA -> fr -> the organisation's default)")
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA, e.g. Europe/Paris: dates and times the customer "
        "reads are in it (default: the organisation's)")
    value_tier: str = Field(default="standard", max_length=20)
    lifetime_value: Money = 0
    currency: Currency | None = None
    marketing_consent: bool = False
    tags: list[Annotated[str, StringConstraints(max_length=50)]] = Field(default_factory=list,
                                                                      max_length=50)
    opted_out_channels: list[Literal["email", "sms", "whatsapp", "helpdesk", "webhook"]] = Field(
        default_factory=list, description="Channels the customer asked not to be contacted on")


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str
    email: str | None
    phone: str | None
    name: str | None
    locale: str | None
    time_zone: str | None
    value_tier: str
    lifetime_value: int
    currency: str | None
    marketing_consent: bool
    tags: list[str]
    opted_out_channels: list[str]
    created_at: datetime
    updated_at: datetime


class Match(BaseModel):
    by: Literal["code", "order", "redeemed_order", "parcel", "case", "conversation", "phone",
                "email", "customer_id", "name"] = Field(
        description="What the query matched: a coupon code, an order id, the order one of "
        "their gestures was redeemed on, a parcel (its id or tracking number), a case "
        "reference, the ticket or chat of a case, a phone number, an e-mail address, the "
        "customer's id, or the start of their name")
    value: str = Field(description="The matched value as stored (a code grouped as printed)")


class CustomerFound(CustomerOut):
    matched: list[Match] = Field(description="Why this customer is in the results")
