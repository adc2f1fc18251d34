from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime
from amends.models._columns import OrgFk

RollupId = BigInteger().with_variant(Integer, "sqlite")


class LedgerRollup(Base):
    """The cost ledger summed per day a gesture was given and per who, why and how; rebuilt
    by `outcomes.rollup` (hourly, and on request), so the ledger reads thousands of rows
    instead of every coupon. Rows of `grain` 'all' keep every dimension; the coarser grains
    (`outcomes.service.LEDGER_GRAINS`) keep some and leave the others null."""

    __tablename__ = "ledger_rollup"
    __table_args__ = (Index("ix_ledger_rollup_org_grain_day", "organization_id", "grain",
                            "day"),)

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=False)
    organization_id: Mapped[OrgFk]
    grain: Mapped[str] = mapped_column(String(10), default="all", server_default="all")
    day: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(50))
    agent: Mapped[str | None] = mapped_column(String(320))
    team: Mapped[str | None] = mapped_column(String(100))
    store: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(20))
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    gestures: Mapped[int] = mapped_column(BigInteger)
    issued: Mapped[int] = mapped_column(BigInteger)
    redeemed: Mapped[int] = mapped_column(BigInteger)
    variance: Mapped[int] = mapped_column(BigInteger)
    breakage: Mapped[int] = mapped_column(BigInteger)
    reversed: Mapped[int] = mapped_column(BigInteger)
    outstanding: Mapped[int] = mapped_column(BigInteger)
    voided: Mapped[int] = mapped_column(BigInteger)


class OutcomeRollup(Base):
    """Cases and customers won back, per day opened, reason, customer tier, severity, hold-out
    and gesture; rebuilt with the ledger's roll-up. Effectiveness reads the rows of `grain`
    'gesture' (no tier or severity), the learned recommendation those of 'all'."""

    __tablename__ = "outcome_rollup"
    __table_args__ = (Index("ix_outcome_rollup_similar", "organization_id", "reason", "tier",
                            "severity", "day"),
                      Index("ix_outcome_rollup_org_grain_day", "organization_id", "grain",
                            "day"))

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=False)
    organization_id: Mapped[OrgFk]
    grain: Mapped[str] = mapped_column(String(10), default="all", server_default="all")
    day: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(50))
    tier: Mapped[str | None] = mapped_column(String(20))
    severity: Mapped[int | None] = mapped_column(Integer)
    held_out: Mapped[bool] = mapped_column(Boolean)
    incentive_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    gesture: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    cases: Mapped[int] = mapped_column(BigInteger)
    won: Mapped[int] = mapped_column(BigInteger)
    face_value: Mapped[int] = mapped_column(BigInteger)
    redeemed: Mapped[int] = mapped_column(BigInteger)


class RollupRun(Base):
    """When an organisation's roll-ups were last rebuilt."""

    __tablename__ = "rollup_runs"

    organization_id: Mapped[OrgFk] = mapped_column(primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds: Mapped[float] = mapped_column()
