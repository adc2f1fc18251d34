from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from amends.kit.schema import Input

DeliveryChannel = Literal["email", "sms", "whatsapp", "helpdesk", "webhook", "copy"]


class DeliveryRequest(Input):
    channel: DeliveryChannel | None = Field(
        default=None, description="Default: the channel of the case's conversation")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    coupon_id: uuid.UUID | None
    case_id: uuid.UUID | None
    kind: str
    channel: str
    address: str
    subject: str
    body_text: str = Field(description="The message as sent; for `copy`, what to paste")
    status: str
    attempts: int
    provider_id: str | None
    error: str | None
    resent_from_id: uuid.UUID | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    opened_at: datetime | None


class ChannelIn(Input):
    settings: dict[str, Any]
    active: bool = True


class ChannelOut(BaseModel):
    channel: str
    active: bool
    configured: list[str] = Field(description="Names of the settings given (values hidden)")


class TemplateIn(Input):
    kind: Literal["gesture", "reminder"] = "gesture"
    channel: DeliveryChannel
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    incentive_id: uuid.UUID | None = None
    subject: str = Field(default="", max_length=300)
    body_text: str = Field(min_length=1, max_length=10000)
    body_html: str | None = Field(default=None, max_length=50000)


class PreviewRequest(Input):
    coupon_id: uuid.UUID
    channel: DeliveryChannel
    kind: Literal["gesture", "reminder"] = "gesture"
    subject: str | None = Field(default=None, max_length=300)
    body_text: str | None = Field(default=None, max_length=10000)
    body_html: str | None = Field(default=None, max_length=50000)


class PreviewOut(BaseModel):
    subject: str
    body_text: str
    body_html: str | None
    sms: dict[str, Any] | None = Field(description="Encoding, characters and segments")
