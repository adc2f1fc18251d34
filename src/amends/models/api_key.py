from __future__ import annotations

import uuid

from sqlalchemy import JSON, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk


class ApiKey(Base):
    """A machine credential with scopes. Only the SHA-256 of its secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # No key to users: it was ON DELETE SET NULL, which Citus cannot do on a key holding the
    # distribution column; users are deactivated, never deleted, so nothing needs clearing.
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[CreatedAt]
    revoked_at: Mapped[OptionalTimestamp]
    # When the key was last seen, to the minute at most (not written on every request).
    last_used_at: Mapped[OptionalTimestamp]
