from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OrgFk, UUIDPk, tenant_fk


class Incentive(Base):
    """A pre-approved gesture of the catalogue.

    `value` means, by kind: percent_off -> percent (1-100); amount_off -> minor units;
    gift_card -> starting balance in minor units; free_item -> the item's price in minor units;
    free_shipping -> the typical shipping cost in minor units (what one free shipment costs).
    Coupons copy these terms when issued, so editing an incentive never changes them.
    """

    __tablename__ = "incentives"
    __table_args__ = (
        tenant_fk("code_pool_id", "code_pools", ondelete="RESTRICT"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    min_order: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sku: Mapped[str | None] = mapped_column(String(100), default=None)
    validity_days: Mapped[int | None] = mapped_column(Integer, default=None)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    terms: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    bound_to_customer: Mapped[bool] = mapped_column(Boolean, default=True)
    code_pool_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, default=None
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
