from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, UUIDPk


class Organization(Base):
    """A tenant: every company-owned row carries its organisation."""

    __tablename__ = "organizations"

    id: Mapped[UUIDPk]
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # What a customer or a person without their own settings reads: BCP 47 and IANA.
    default_locale: Mapped[str] = mapped_column(String(35), default="en")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The locales the organisation writes to customers in; others fall back to the default.
    supported_locales: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["en", "fr", "de", "es", "nl"])
    code_prefix: Mapped[str | None] = mapped_column(String(6), default=None)
    average_order_value: Mapped[int] = mapped_column(BigInteger, default=5000)
    second_gesture_window_days: Mapped[int] = mapped_column(Integer, default=30)
    approval_hours: Mapped[int] = mapped_column(Integer, default=72)
    # Who decides a gesture above an agent's authority, tier by tier: a request goes to the
    # first tier whose role may grant it and escalates to the next when an approver of the
    # tier cannot (above their own limit or budget) or when it waited longer than the SLA.
    approval_tiers: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["supervisor", "manager", "admin"])
    # Minutes a request may wait at one tier before the next tier is told; None: never.
    approval_sla_minutes: Mapped[int | None] = mapped_column(Integer, default=60)
    reminder_days: Mapped[int] = mapped_column(Integer, default=3)
    automation_daily_budget: Mapped[int | None] = mapped_column(BigInteger, default=20_000)
    feedback_delay_days: Mapped[int] = mapped_column(Integer, default=3)
    thank_you_window_days: Mapped[int] = mapped_column(Integer, default=90)
    surprise_incentive_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # The share of an incident's customers held out by default (no gesture), to measure.
    holdout_percent_default: Mapped[int] = mapped_column(Integer, default=0)
    incident_approval_threshold: Mapped[int] = mapped_column(BigInteger, default=100_000)
    recommendation_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The brand, in messages, on the coupon page and on wallet passes. The display name
    # defaults to `name`; the sender name to the display name.
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    sender_name: Mapped[str | None] = mapped_column(String(200), default=None)
    sender_email: Mapped[str | None] = mapped_column(String(320), default=None)
    reply_to: Mapped[str | None] = mapped_column(String(320), default=None)
    brand_color: Mapped[str | None] = mapped_column(String(7), default=None)
    support_email: Mapped[str | None] = mapped_column(String(320), default=None)
    support_phone: Mapped[str | None] = mapped_column(String(20), default=None)
    support_url: Mapped[str | None] = mapped_column(String(400), default=None)
    # The current logo (a `brand_logos` row of this organisation), by content hash.
    logo_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # An SMS longer than this many segments is shortened (the link and code kept) or refused.
    sms_max_segments: Mapped[int] = mapped_column(Integer, default=3)
    created_at: Mapped[CreatedAt]
