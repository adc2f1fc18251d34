from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, OrgId, UUIDPk


class AuditEvent(Base):
    """Append-only record of who did what to which object (triggers forbid UPDATE/DELETE)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_object", "organization_id", "object_type", "object_id"),
        Index("ix_audit_events_org_action", "organization_id", "action", "id"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgId]
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(100), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[CreatedAt]
