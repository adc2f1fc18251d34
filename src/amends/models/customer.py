from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OrgFk, UUIDPk


class Customer(Base):
    """A customer of an organisation, known by the organisation's own id (`external_id`)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_customers_org_email", "organization_id", "email"),
        Index("ix_customers_org_phone", "organization_id", "phone"),
        Index("ix_customers_org_name", "organization_id", "name_search"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    external_id: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    name_search: Mapped[str | None] = mapped_column(String(200), default=None)
    # BCP 47 (`fr-FR`) and IANA zone (`Europe/Paris`); None reads the organisation's default.
    locale: Mapped[str | None] = mapped_column(String(35), default=None)
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    value_tier: Mapped[str] = mapped_column(String(20), default="standard")
    lifetime_value: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Channels the customer asked not to be contacted on (e.g. ["sms"]).
    opted_out_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
