from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk, tenant_fk


class WebhookEndpoint(Base):
    """Where the organisation wants its events (Standard Webhooks, signed with `secret`)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[CreatedAt]


class WebhookDelivery(Base):
    """One event to one endpoint, with what happened when it was sent (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        tenant_fk("endpoint_id", "webhook_endpoints", ondelete="CASCADE"),
        Index("ix_webhook_deliveries_endpoint", "organization_id", "endpoint_id",
                            "created_at"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # The receiver's last answer, as it came (cut at a few kilobytes), for the delivery log.
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[CreatedAt]
    delivered_at: Mapped[OptionalTimestamp]


class Suppression(Base):
    """A customer on the marketing suppression list while a case is open ("serve, don't sell")."""

    __tablename__ = "suppressions"
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        Index("ix_suppressions_org_changed", "organization_id", "changed_at"),
                      Index("uq_suppressions_org_customer", "organization_id", "customer_id",
                            unique=True))

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_external_id: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(String(100), default="open_case")
    changed_at: Mapped[CreatedAt]
    created_at: Mapped[CreatedAt]
