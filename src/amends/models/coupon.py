from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.models._columns import CreatedAt, OptionalTimestamp, OrgFk, OrgId, UUIDPk, tenant_fk


class Coupon(Base):
    """A gesture issued to one customer, with a snapshot of the incentive's terms.

    `status` is what happened to it: active, reserved (held by a checkout until
    `reserved_until`), redeemed, revoked. Expiry is not a stored status: a coupon is expired
    when `expires_at` has passed, so nothing has to run for it to expire.
    `case_ref` is '' when the coupon belongs to no case: the uniqueness of
    (customer, incentive, case_ref) is what makes issuing idempotent.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        tenant_fk("incentive_id", "incentives", ondelete="RESTRICT"),

        UniqueConstraint("organization_id", "customer_id", "incentive_id", "case_ref"),
        UniqueConstraint("organization_id", "code"),
        UniqueConstraint("organization_id", "page_token"),
        # Coupon pages whose token predates the organisation in front (see
        # kit.secrets.tenant_token) are found by the token alone.
        Index("ix_coupons_page_token", "page_token"),
        Index("ix_coupons_org_customer", "organization_id", "customer_id", "issued_at"),
        # Sweeps over all organisations (expiry reminders, timed-out holds); deliberately not
        # led by organization_id, so the planner never prefers it to the code lookup. No
        # index holds a column a redemption changes (status, redeemed_at, the count), so on
        # PostgreSQL the redeem UPDATE is a HOT update that touches no index (the table keeps
        # free space on its pages for it: fillfactor 85, set by migration 0010).
        Index("ix_coupons_expires", "expires_at"),
        Index("ix_coupons_reserved_until", "reserved_until"),
        # Outcomes and reports join a case to its gestures.
        Index("ix_coupons_org_case", "organization_id", "case_ref"),
        # Exports and reports of a period (issued_at never changes: the redeem stays HOT).
        Index("ix_coupons_org_issued", "organization_id", "issued_at"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_external_id: Mapped[str] = mapped_column(String(100))
    incentive_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    case_ref: Mapped[str] = mapped_column(String(100), default="")
    code: Mapped[str] = mapped_column(String(64))
    page_token: Mapped[str] = mapped_column(String(64))
    # Snapshot of the incentive's terms at issue time.
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    min_order: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sku: Mapped[str | None] = mapped_column(String(100), default=None)
    terms: Mapped[str] = mapped_column(Text, default="")
    bound_to_customer: Mapped[bool] = mapped_column(Boolean, default=True)
    face_value: Mapped[int] = mapped_column(BigInteger)
    # Life.
    status: Mapped[str] = mapped_column(String(20), default="active")
    balance: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_debit: Mapped[int | None] = mapped_column(BigInteger, default=None)
    redemption_count: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reserved_until: Mapped[OptionalTimestamp]
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    redeemed_at: Mapped[OptionalTimestamp]
    revoked_at: Mapped[OptionalTimestamp]
    revoked_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    reinstated_count: Mapped[int] = mapped_column(Integer, default=0)
    reminded_at: Mapped[OptionalTimestamp]
    # Who, where, how.
    channel: Mapped[str | None] = mapped_column(String(20), default=None)
    issued_by_type: Mapped[str] = mapped_column(String(20))
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    issued_by_label: Mapped[str] = mapped_column(String(320))
    issued_at: Mapped[CreatedAt]


class Redemption(Base):
    """One use of a coupon (or one debit of a gift card), possibly voided later on a refund."""

    __tablename__ = "redemptions"
    __table_args__ = (
        tenant_fk("coupon_id", "coupons", ondelete="CASCADE"),

        Index("ix_redemptions_org_coupon", "organization_id", "coupon_id"),
        Index("ix_redemptions_org_created", "organization_id", "created_at"),
        # Search by the order a gesture was used on.
        Index("ix_redemptions_org_order", "organization_id", "order_id"),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgId]
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    order_id: Mapped[str] = mapped_column(String(100))
    order_amount: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(String(100), default=None)
    till_id: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[str] = mapped_column(String(20), default="completed")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[CreatedAt]
    voided_at: Mapped[OptionalTimestamp]
    void_reason: Mapped[str | None] = mapped_column(String(1000), default=None)


class Reservation(Base):
    """A checkout's hold on a coupon: confirmed into a redemption, released, or timed out."""

    __tablename__ = "reservations"
    __table_args__ = (
        tenant_fk("coupon_id", "coupons", ondelete="CASCADE"),
        Index("ix_reservations_held", "status", "expires_at"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    order_id: Mapped[str] = mapped_column(String(100))
    order_amount: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(String(100), default=None)
    till_id: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[str] = mapped_column(String(20), default="held")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[CreatedAt]
    finished_at: Mapped[OptionalTimestamp]


class GiftCardEntry(Base):
    """The gift-card ledger: the balance of a card always equals the sum of its entries."""

    __tablename__ = "gift_card_entries"
    __table_args__ = (
        tenant_fk("coupon_id", "coupons", ondelete="CASCADE"),
        Index("ix_gift_card_entries_coupon", "organization_id", "coupon_id"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    redemption_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[CreatedAt]
