from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.kit.clock import utcnow
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, UUIDPk, tenant_fk


class ShopConnection(Base):
    """An organisation's online shop (`shopify`, `woocommerce`) that its gestures are pushed
    into as single-use codes, and whose order webhooks say when one was used.

    `shop_url` is where the shop's API lives (`https://cool-store.myshopify.com`,
    `https://shop.example`); `settings` are shown (Shopify's pinned `api_version`);
    `secrets` never are (the access token or consumer key and secret, and the secret the
    shop's webhooks are signed with). `last_error` is the latest push or reconciliation that
    failed, until one succeeds.
    """

    __tablename__ = "shop_connections"
    __table_args__ = (
        UniqueConstraint("organization_id", "platform", "shop_url"),
        # The webhook address names the connection alone (the shop knows no organisation).
        Index("ix_shop_connections_id", "id"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    platform: Mapped[str] = mapped_column(String(20))
    shop_url: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    last_error_at: Mapped[OptionalTimestamp]
    last_reconciled_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ShopCode(Base):
    """A coupon as one shop holds it: `status` pending (queued), pushed, failed (the shop
    refused it or could not be reached; `last_error` says why), deactivated (revoked in
    Amends) or deleted (gone from the shop)."""

    __tablename__ = "shop_codes"
    __table_args__ = (
        tenant_fk("coupon_id", "coupons", ondelete="CASCADE"),
        tenant_fk("connection_id", "shop_connections", ondelete="CASCADE"),
        UniqueConstraint("organization_id", "coupon_id", "connection_id"),
        Index("ix_shop_codes_org_connection_status", "organization_id", "connection_id",
              "status"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # The code as the shop spells it (WooCommerce lowercases codes; Shopify gift cards take
    # letters and digits only).
    code: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ShopOrder(Base):
    """A shop order that used one of the codes, as its webhooks told: `redeemed` (the
    redemption it recorded), `voided` (cancelled or refunded after), or `refused` (Amends
    could not record it; `note` says why). One row per order and code keeps a webhook
    delivered twice from recording twice."""

    __tablename__ = "shop_orders"
    __table_args__ = (
        tenant_fk("connection_id", "shop_connections", ondelete="CASCADE"),
        UniqueConstraint("organization_id", "connection_id", "order_id", "coupon_id"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    order_id: Mapped[str] = mapped_column(String(100))
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    redemption_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ShopCustomer(Base):
    """A customer's id in one shop (Shopify's customer gid), given by the API or found by the
    customer's e-mail on the first push."""

    __tablename__ = "shop_customers"
    __table_args__ = (
        tenant_fk("connection_id", "shop_connections", ondelete="CASCADE"),
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        UniqueConstraint("organization_id", "connection_id", "customer_id"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    remote_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
