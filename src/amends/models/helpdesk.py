from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OrgFk, Timestamp, UUIDPk, tenant_fk


class HelpdeskInstallation(Base):
    """Amends installed in one helpdesk account (`zendesk`, `freshdesk`, `intercom`,
    `gorgias`) of an organisation.

    `account` names the helpdesk account the platform's requests come from (a Zendesk
    subdomain, a Freshdesk domain, an Intercom workspace id, a Gorgias domain). `settings` are
    shown (how replies are posted, tags mapped to reasons, origins that may frame the panel);
    `secrets` never are (the keys and tokens the signed requests are checked with and replies
    are posted with): the API and the admin page only say which are set.
    """

    __tablename__ = "helpdesk_installations"
    __table_args__ = (UniqueConstraint("organization_id", "platform", "account"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    platform: Mapped[str] = mapped_column(String(20))
    account: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class HelpdeskPanel(Base):
    """An agent's panel opened from one ticket: the helpdesk's signed request was checked once,
    and the panel's own requests then carry this random token (only its SHA-256 is stored),
    never a cookie (the panel lives in the helpdesk's frame) nor an API key."""

    __tablename__ = "helpdesk_panels"
    __table_args__ = (
        tenant_fk("installation_id", "helpdesk_installations", ondelete="CASCADE"),
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("organization_id", "token_hash"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    installation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64))
    ticket: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[Timestamp]


class HelpdeskReplay(Base):
    """A signed request already used (its token id or its signature's digest), kept until it
    would have expired anyway: the same request again is refused."""

    __tablename__ = "helpdesk_replays"
    __table_args__ = (
        UniqueConstraint("organization_id", "digest"),
        Index("ix_helpdesk_replays_org_expires", "organization_id", "expires_at"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[Timestamp]
