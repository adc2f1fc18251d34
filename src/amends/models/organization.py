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
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    code_prefix: Mapped[str | None] = mapped_column(String(6), default=None)
    average_order_value: Mapped[int] = mapped_column(BigInteger, default=5000)
    second_gesture_window_days: Mapped[int] = mapped_column(Integer, default=30)
    approval_hours: Mapped[int] = mapped_column(Integer, default=72)
    reminder_days: Mapped[int] = mapped_column(Integer, default=3)
    automation_daily_budget: Mapped[int | None] = mapped_column(BigInteger, default=20_000)
    feedback_delay_days: Mapped[int] = mapped_column(Integer, default=3)
    thank_you_window_days: Mapped[int] = mapped_column(Integer, default=90)
    surprise_incentive_id: Mapped[str | None] = mapped_column(String(36), default=None)
    incident_approval_threshold: Mapped[int] = mapped_column(BigInteger, default=100_000)
    recommendation_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[CreatedAt]
