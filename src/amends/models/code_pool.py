from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import (
    CreatedAt,
    OptionalTimestamp,
    OrgFk,
    OrgId,
    UUIDPk,
    tenant_fk,
)


class CodePool(Base):
    """Codes that the organisation's own tills issued, imported to be handed out one by one."""

    __tablename__ = "code_pools"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[CreatedAt]


class PoolCode(Base):
    """One code of a pool. Its organisation id has no key of its own to `organizations`: the
    key to its pool holds it (the pool's key is to the organisation, and deleting either
    cascades), and a key checked once a row cost a third of a million-code import."""

    __tablename__ = "pool_codes"
    __table_args__ = (
        tenant_fk("pool_id", "code_pools", ondelete="CASCADE"),

        UniqueConstraint("organization_id", "code"),
        Index(
            "ix_pool_codes_available", "pool_id", "id",
            sqlite_where=text("coupon_id IS NULL"), postgresql_where=text("coupon_id IS NULL"),
        ),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgId]
    pool_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    code: Mapped[str] = mapped_column(String(64))
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    allocated_at: Mapped[OptionalTimestamp]


class PoolImport(Base):
    """One run of a CSV import into a pool, with what it added and what it refused."""

    __tablename__ = "pool_imports"
    __table_args__ = (
        tenant_fk("pool_id", "code_pools", ondelete="CASCADE"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    pool_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    source: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    invalid_samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[CreatedAt]
    finished_at: Mapped[OptionalTimestamp]
