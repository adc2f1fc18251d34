from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk, tenant_fk


class AuthorityLimit(Base):
    """What a role (or one person, overriding the role) may give, per currency.

    `subject` is `role:agent` or `user:<id>`. None means unlimited for that measure.
    """

    __tablename__ = "authority_limits"
    __table_args__ = (UniqueConstraint("organization_id", "subject", "currency"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    subject: Mapped[str] = mapped_column(String(60))
    currency: Mapped[str] = mapped_column(String(3))
    max_gesture: Mapped[int | None] = mapped_column(BigInteger, default=None)
    daily_budget: Mapped[int | None] = mapped_column(BigInteger, default=None)
    monthly_budget: Mapped[int | None] = mapped_column(BigInteger, default=None)
    incentive_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BudgetUsage(Base):
    """Spent value per person and period; consumed with one conditional UPDATE."""

    __tablename__ = "budget_usage"
    __table_args__ = (UniqueConstraint("organization_id", "spender", "period", "currency"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    spender: Mapped[str] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    spent: Mapped[int] = mapped_column(BigInteger, default=0)


class Approval(Base):
    """A gesture above someone's authority, waiting for a supervisor's decision."""

    __tablename__ = "approvals"
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        tenant_fk("incentive_id", "incentives", ondelete="CASCADE"),

        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        Index("ix_approvals_org_status", "organization_id", "status", "created_at"),
        # A case page's pending request.
        Index("ix_approvals_org_case", "organization_id", "case_id"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_external_id: Mapped[str] = mapped_column(String(100))
    incentive_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    case_ref: Mapped[str] = mapped_column(String(100), default="")
    channel: Mapped[str | None] = mapped_column(String(20), default=None)
    face_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    grounds: Mapped[list[str]] = mapped_column(JSON, default=list)
    explanation: Mapped[str] = mapped_column(String(1000), default="")
    note: Mapped[str | None] = mapped_column(String(1000), default=None)
    history: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by_type: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    requested_by_label: Mapped[str] = mapped_column(String(320))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    decided_by_label: Mapped[str | None] = mapped_column(String(320), default=None)
    decision_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    decided_at: Mapped[OptionalTimestamp]
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The role that decides it now (one of the organisation's approval tiers), since when,
    # and how it got there: [{"tier", "at", "why", "by"}], oldest first.
    tier: Mapped[str] = mapped_column(String(20), default="supervisor")
    tier_since: Mapped[OptionalTimestamp]
    chain: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # When the tier above was told that this request waited longer than the SLA.
    sla_notified_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
