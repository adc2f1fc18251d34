from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, OrgFk, UUIDPk


class BrandLogo(Base):
    """An uploaded logo, checked and re-encoded as PNG, served at a URL that names its content
    hash (so it is cached for ever and a new logo is a new URL)."""

    __tablename__ = "brand_logos"
    __table_args__ = (UniqueConstraint("organization_id", "sha256"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]
