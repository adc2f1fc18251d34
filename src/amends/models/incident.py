from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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


class Incident(Base):
    """One failure that let many customers down at once, and the amends made to all of them.

    status: draft -> (awaiting approval: the manager's yes is recorded) -> running <-> paused
    -> completed, or cancelled (gestures not yet delivered are revoked).
    """

    __tablename__ = "incidents"
    __table_args__ = (
        tenant_fk("incentive_id", "incentives", ondelete="RESTRICT"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    title: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(50))
    severity: Mapped[int] = mapped_column(Integer, default=2)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    incentive_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, default=None)
    message: Mapped[str] = mapped_column(Text, default="")
    channel_policy: Mapped[str] = mapped_column(String(20), default="preferred")
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    affected: Mapped[int] = mapped_column(Integer, default=0)
    face_value_total: Mapped[int] = mapped_column(BigInteger, default=0)
    approved_by_label: Mapped[str | None] = mapped_column(String(320), default=None)
    approved_at: Mapped[OptionalTimestamp]
    created_by_type: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_by_label: Mapped[str] = mapped_column(String(320))
    started_at: Mapped[OptionalTimestamp]
    paused_at: Mapped[OptionalTimestamp]
    finished_at: Mapped[OptionalTimestamp]
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IncidentCustomer(Base):
    """A customer the incident touched. `seq` numbers them from 1 in the order they were
    added: the run works through them in chunks of `seq` and paces messages by it.

    state: pending -> done (case, gesture, message) | held_out (case and apology only) |
    unreachable (no address on the channel) | unknown (no such customer id); `cancelled` when
    the incident was cancelled before this customer's turn.
    """

    __tablename__ = "incident_customers"
    __table_args__ = (
        tenant_fk("incident_id", "incidents", ondelete="CASCADE"),

        tenant_fk("customer_id", "customers", ondelete="CASCADE"),

        UniqueConstraint("organization_id", "incident_id", "customer_external_id",
                         name="uq_incident_customers_org_incident_external"),
        UniqueConstraint("organization_id", "incident_id", "seq",
                         name="uq_incident_customers_org_incident_seq"),
        Index("ix_incident_customers_state", "organization_id", "incident_id", "state", "seq"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    incident_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    seq: Mapped[int] = mapped_column(Integer)
    customer_external_id: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, default=None)
    held_out: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    processed_at: Mapped[OptionalTimestamp]
