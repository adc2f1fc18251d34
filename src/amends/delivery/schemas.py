from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from amends.kit.locale import LocaleTag
from amends.kit.schema import Input

DeliveryChannel = Literal["email", "sms", "whatsapp", "helpdesk", "webhook", "copy"]
# Every message kind (`delivery.wording.KINDS`).
MessageKind = Literal["gesture", "reminder", "apology", "incident_apology", "progress",
                      "feedback", "thank_you", "reinstatement"]


class DeliveryRequest(Input):
    channel: DeliveryChannel | None = Field(
        default=None, description="Default: the channel of the case's conversation")
    kind: Literal["gesture", "reminder", "reinstatement"] = Field(
        default="gesture", description=(
            "gesture: the coupon as an apology; reminder: its expiry is near; "
            "reinstatement: it was reinstated or extended, valid until its new expiry"))


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    coupon_id: uuid.UUID | None
    case_id: uuid.UUID | None
    kind: str
    channel: str
    address: str
    language: str = Field(description="The locale of the wording used (BCP 47), e.g. fr")
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


Secret = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
PerSecond = Annotated[float, Field(gt=0, le=1_000_000, description=(
    "Most messages a second an incident sends on this channel"))]


class EmailSettings(Input):
    host: Name = Field(description="SMTP server (a public address)")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Name | None = None
    password: Secret | None = None
    from_address: Name = Field(description='The sender, e.g. "Retailer <care@retailer.example>"')
    timeout: float = Field(default=15, gt=0, le=300, description="Seconds per SMTP command")
    max_connections: int | None = Field(default=None, ge=1, le=64, description=(
        "Connections a worker keeps to this server at most (default 8)"))
    rate_per_second: PerSecond | None = None


class TwilioSettings(Input):
    account_sid: Name
    auth_token: Secret
    from_number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    base_url: Url = "https://api.twilio.com"
    rate_per_second: PerSecond | None = None


class HelpdeskSettings(Input):
    base_url: Url
    email: Name
    api_token: Secret
    rate_per_second: PerSecond | None = None


class WebhookChannelSettings(Input):
    url: Url
    secret: Secret
    rate_per_second: PerSecond | None = None


CHANNEL_SETTINGS: dict[str, type[Input]] = {
    "email": EmailSettings, "sms": TwilioSettings, "whatsapp": TwilioSettings,
    "helpdesk": HelpdeskSettings, "webhook": WebhookChannelSettings,
}


class ChannelIn(Input):
    settings: dict[str, Any] = Field(description=(
        "The channel's settings: see EmailSettings, TwilioSettings (sms, whatsapp), "
        "HelpdeskSettings and WebhookChannelSettings; an unknown setting is refused"))
    active: bool = True


class ChannelOut(BaseModel):
    channel: str
    active: bool
    configured: list[str] = Field(description="Names of the settings given (values hidden)")


class ChannelListed(BaseModel):
    channel: str
    active: bool
    settings: dict[str, Any] = Field(description=(
        'The settings as saved, each secret (password, auth_token, api_token, secret) '
        'shown as "set"'))
    updated_at: datetime


class ChannelTestIn(Input):
    to: str = Field(min_length=1, max_length=320, description=(
        "Where to send the test: an e-mail address, a phone number in international form "
        "(+33612345678) for sms and whatsapp, a ticket id for helpdesk, a recipient id for "
        "webhook"))


class ChannelTestOut(BaseModel):
    ok: bool = Field(description="Whether the provider took the message")
    detail: str = Field(description="The provider's answer, or why it refused the message")


class TemplateKey(Input):
    kind: MessageKind = "gesture"
    channel: DeliveryChannel
    language: LocaleTag = "en"
    incentive_id: uuid.UUID | None = None


class TemplateIn(Input):
    kind: MessageKind = "gesture"
    channel: DeliveryChannel
    language: LocaleTag = Field(default="en", description=(
        "The locale it is written in (BCP 47: fr, fr-CA); a customer in fr-CA reads the "
        "organisation's fr-CA template, else its fr one, else the shipped French"))
    incentive_id: uuid.UUID | None = None
    subject: str = Field(default="", max_length=300)
    body_text: str = Field(min_length=1, max_length=10000)
    body_html: str | None = Field(default=None, max_length=50000)


class PreviewRequest(Input):
    coupon_id: uuid.UUID
    channel: DeliveryChannel
    kind: MessageKind = "gesture"
    locale: LocaleTag | None = Field(default=None, description=(
        "Render as a reader of this locale would read it (default: the coupon's customer's)"))
    subject: str | None = Field(default=None, max_length=300)
    body_text: str | None = Field(default=None, max_length=10000)
    body_html: str | None = Field(default=None, max_length=50000)


class PreviewOut(BaseModel):
    language: str = Field(description="The locale of the wording used")
    subject: str
    body_text: str
    body_html: str | None
    sms: dict[str, Any] | None = Field(description="Encoding, characters and segments")
