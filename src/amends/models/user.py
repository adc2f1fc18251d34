from __future__ import annotations

from sqlalchemy import Boolean, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk


class User(Base):
    """A member of staff who logs in to the console."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team: Mapped[str | None] = mapped_column(String(100), default=None)
    store: Mapped[str | None] = mapped_column(String(100), default=None)
    password_hash: Mapped[str] = mapped_column(String(255))
    # The console's language and zone for this person; None follows the browser's
    # Accept-Language and the organisation's zone.
    locale: Mapped[str | None] = mapped_column(String(35), default=None)
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[CreatedAt]
    last_login_at: Mapped[OptionalTimestamp]
    # An invitation or a password reset: the hash of the set-password link's token, and when
    # the link stops working. A person invited and not yet arrived has no password.
    password_token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    password_token_expires_at: Mapped[OptionalTimestamp]
    invited_at: Mapped[OptionalTimestamp]

    def __repr__(self) -> str:
        return f"User({self.email!r}, role={self.role!r})"



