from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk, tenant_fk


class ChannelConfig(Base):
    """How an organisation reaches customers on one channel (SMTP server, SMS account, ...)."""

    __tablename__ = "channel_configs"
    __table_args__ = (UniqueConstraint("organization_id", "channel"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    channel: Mapped[str] = mapped_column(String(20))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MessageTemplate(Base):
    """The organisation's wording for a message, per kind, channel, locale (`language` holds a
    BCP 47 tag: `fr`, `fr-CA`) and (optionally) incentive. `incentive_key` is '' for the
    organisation's default."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("organization_id", "kind", "channel", "language",
                                       "incentive_key"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(35))
    incentive_key: Mapped[str] = mapped_column(String(36), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One message to one customer on one channel, and what became of it.

    status: queued -> sent -> delivered | failed | bounced. `opened_at` is set the first time
    the coupon page is opened from it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),

        tenant_fk("coupon_id", "coupons", ondelete="CASCADE"),
        tenant_fk("case_id", "cases", ondelete="CASCADE"),

        Index("ix_deliveries_org_coupon", "organization_id", "coupon_id", "created_at"),
        Index("ix_deliveries_org_case", "organization_id", "case_id"),
        # The customer's timeline.
        Index("ix_deliveries_org_customer", "organization_id", "customer_id", "created_at"),
        Index("ix_deliveries_provider", "provider_id"),
        Index("ix_deliveries_incident", "incident_id", "status"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, default=None)
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, default=None)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(400))
    language: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(200), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    resent_from_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    requested_by_label: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[CreatedAt]
    sent_at: Mapped[OptionalTimestamp]
    delivered_at: Mapped[OptionalTimestamp]
    failed_at: Mapped[OptionalTimestamp]
    opened_at: Mapped[OptionalTimestamp]
