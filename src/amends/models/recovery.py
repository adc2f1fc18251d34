from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk, tenant_fk


class RecoveryRule(Base):
    """A proactive-recovery rule: a condition on shipments, filters, and what to do.

    condition: {"type": "not_scanned_for" | "past_promised" | "split_late" |
    "carrier_exception", "hours": N, "reasons": [...]}; filters: {"tiers": [...],
    "min_order_value": N, "carriers": [...]}; actions: {"open_case": {"reason", "severity"},
    "apologise": ["email", "sms"], "progress_every_days": N, "incentive_id": "...",
    "notify": true}. Validated on save (`recovery.schemas.RuleIn`).
    """

    __tablename__ = "recovery_rules"

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    condition: Mapped[dict[str, Any]] = mapped_column(JSON)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actions: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When someone last looked at what the rule would do (its dry run) since it was changed;
    # the console switches a rule on only after that.
    dry_run_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RuleFiring(Base):
    """A rule fired for a shipment; the unique constraint makes it fire once, whoever sweeps."""

    __tablename__ = "rule_firings"
    __table_args__ = (
        tenant_fk("rule_id", "recovery_rules", ondelete="CASCADE"),
        tenant_fk("shipment_id", "shipments", ondelete="CASCADE"),
        UniqueConstraint("organization_id", "rule_id", "shipment_id"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    shipment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # No key to cases (it was ON DELETE SET NULL, which Citus cannot do); cases are closed,
    # never deleted, so the firing keeps pointing at its case.
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    why: Mapped[str] = mapped_column(String(500))
    fired_at: Mapped[CreatedAt]
