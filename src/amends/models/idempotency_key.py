from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, Timestamp, UUIDPk


class IdempotencyKey(Base):
    """A stored response for an `Idempotency-Key`, scoped to the credential that sent it."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), default=None
    )
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    response_content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[Timestamp] = mapped_column(index=True)
