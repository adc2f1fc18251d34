from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OrgFk, UUIDPk, tenant_fk


class WalletConfig(Base):
    """An organisation's credentials for one wallet platform (`apple`, `google`).

    `settings` holds the secrets (private keys) like a channel's configuration does; the API
    never shows them. `update_counter` numbers the organisation's Apple pass changes: it is
    increased with an UPDATE of this row, whose row lock makes the numbers commit in order (a
    device that read number n has seen every change numbered n or less). The row outlives a
    DELETE of the configuration (it is emptied), so the numbers never go back.
    """

    __tablename__ = "wallet_configs"
    __table_args__ = (UniqueConstraint("organization_id", "platform"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    platform: Mapped[str] = mapped_column(String(10))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    update_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WalletPass(Base):
    """The Apple Wallet pass of a coupon, made the first time the customer adds it.

    `serial_number` names the organisation (a tenant token), so a device's request finds the
    pass on one shard; `authentication_token` is what the device sends back
    (`Authorization: ApplePass ...`). `update_tag` is the organisation's `update_counter` at
    the pass's last change and `updated_at` its time (the `Last-Modified` of the pass).
    """

    __tablename__ = "wallet_passes"
    __table_args__ = (
        tenant_fk("coupon_id", "coupons", ondelete="CASCADE"),
        UniqueConstraint("organization_id", "coupon_id"),
        UniqueConstraint("organization_id", "serial_number"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    serial_number: Mapped[str] = mapped_column(String(100))
    authentication_token: Mapped[str] = mapped_column(String(100))
    update_tag: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[CreatedAt]


class WalletRegistration(Base):
    """A device that asked to hear of a pass's changes, with its APNs push token."""

    __tablename__ = "wallet_registrations"
    __table_args__ = (
        tenant_fk("pass_id", "wallet_passes", ondelete="CASCADE"),
        UniqueConstraint("organization_id", "device_id", "pass_id"),
        Index("ix_wallet_registrations_org_pass", "organization_id", "pass_id"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    pass_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Wallet's deviceLibraryIdentifier.
    device_id: Mapped[str] = mapped_column(String(100))
    push_token: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
