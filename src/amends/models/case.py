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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk, tenant_fk


class Reason(Base):
    """A reason category the organisation uses for cases (late delivery, lost parcel, ...)."""

    __tablename__ = "reasons"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class Case(Base):
    """One let-down customer, taken through the four steps of service recovery.

    state: open -> apologised -> reviewing -> fixed -> followed_up -> closed; any step can be
    skipped (with a reason) and a closed case can be reopened.
    """

    __tablename__ = "cases"
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),

        Index("ix_cases_org_customer", "organization_id", "customer_id", "opened_at"),
        Index("ix_cases_org_state", "organization_id", "state", "opened_at"),
        # Reports of a period (the edges of a period the daily roll-ups do not cover).
        Index("ix_cases_org_opened", "organization_id", "opened_at"),
        # Search by a helpdesk ticket or chat reference.
        Index("ix_cases_org_conversation", "organization_id", "conversation_ref"),
        UniqueConstraint("organization_id", "reference"),
        # One case per helpdesk ticket (a case without an installation is not constrained).
        UniqueConstraint("organization_id", "helpdesk_installation_id", "conversation_ref",
                         name="uq_cases_helpdesk_ticket"),
        # One case per customer per incident, whatever re-runs or crashes happen.
        Index("uq_cases_incident_customer", "organization_id", "incident_id", "customer_id",
              unique=True, sqlite_where=text("incident_id IS NOT NULL"),
              postgresql_where=text("incident_id IS NOT NULL")),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    reference: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_external_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(50))
    severity: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    conversation_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    # The helpdesk installation whose ticket the case was opened for (the page links back to
    # the ticket); no foreign key: a case outlives an uninstalled app.
    helpdesk_installation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    state: Mapped[str] = mapped_column(String(20), default="open")
    summary: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str | None] = mapped_column(String(100), default=None)
    responsible_party: Mapped[str | None] = mapped_column(String(200), default=None)
    remedy: Mapped[str | None] = mapped_column(Text, default=None)
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_by_type: Mapped[str] = mapped_column(String(20))
    opened_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    opened_by_label: Mapped[str] = mapped_column(String(320))
    opened_at: Mapped[CreatedAt]
    fixed_at: Mapped[OptionalTimestamp]
    closed_at: Mapped[OptionalTimestamp]
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    # Kept on an apology without a gesture by a rule's or an incident's hold-out group, so
    # the effect of the gesture is measured against it.
    held_out: Mapped[bool] = mapped_column(Boolean, default=False)
    feedback_score: Mapped[int | None] = mapped_column(Integer, default=None)
    feedback_comment: Mapped[str | None] = mapped_column(Text, default=None)
    feedback_at: Mapped[OptionalTimestamp]
    thanked_at: Mapped[OptionalTimestamp]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CaseEvent(Base):
    """The case timeline: everything that happened, in order."""

    __tablename__ = "case_events"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        Index("ix_case_events_case", "organization_id", "case_id", "id"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_label: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[CreatedAt]
