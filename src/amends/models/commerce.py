from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk, tenant_fk


class Event(Base):
    """An event an upstream system sent, stored once per sender's event id."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("organization_id", "source_id"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    source_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[CreatedAt]


class Order(Base):
    """An order (projected from `order.placed`) or a completed purchase (`purchase.completed`)."""

    __tablename__ = "orders"
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),

        UniqueConstraint("organization_id", "external_id"),
        Index("ix_orders_org_customer", "organization_id", "customer_id", "completed_at"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    external_id: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_external_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="placed")
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Shipment(Base):
    """A parcel (projected from `shipment.*` events), queried by the recovery sweeps."""

    __tablename__ = "shipments"
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),

        UniqueConstraint("organization_id", "external_id"),
        Index("ix_shipments_open_scan", "status", "last_scan_at"),
        Index("ix_shipments_open_promised", "status", "promised_at"),
        Index("ix_shipments_org_order", "organization_id", "order_external_id"),
        # Search by the tracking number a customer reads out.
        Index("ix_shipments_org_tracking", "organization_id", "tracking_number"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    external_id: Mapped[str] = mapped_column(String(100))
    order_external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, default=None)
    carrier: Mapped[str | None] = mapped_column(String(50), default=None)
    tracking_number: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[str] = mapped_column(String(20), default="created")
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_scan_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_location: Mapped[str | None] = mapped_column(String(200), default=None)
    # What this parcel carries, when the shipment event says ([{"sku", "name", "quantity"}]):
    # the apology for one parcel of a split order names its own items.
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    delivered_at: Mapped[OptionalTimestamp]
    exception_reason: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
