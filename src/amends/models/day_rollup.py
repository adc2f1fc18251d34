from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import OrgFk, UUIDPk
from amends.models.outcome import RollupId


class GestureDay(Base):
    """Gestures summed per UTC day they were given and per `grain` (`rollups.days`): the
    dimensions the grain keeps are set, the others are null. Gestures, face value, those
    redeemed and the value redeemed count the gestures that were not withdrawn; `revoked`
    counts the others. Kept up to date by `rollups.days.fold` from `RollupChange`."""

    __tablename__ = "gesture_days"
    __table_args__ = (Index("ix_gesture_days_org_grain_day", "organization_id", "grain", "day"),)

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=False)
    organization_id: Mapped[OrgFk]
    grain: Mapped[str] = mapped_column(String(10))
    day: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(50))
    agent: Mapped[str | None] = mapped_column(String(320))
    issuer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str | None] = mapped_column(String(3))
    gestures: Mapped[int] = mapped_column(BigInteger)
    face_value: Mapped[int] = mapped_column(BigInteger)
    redeemed: Mapped[int] = mapped_column(BigInteger)
    redeemed_value: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[int] = mapped_column(BigInteger)


class RedemptionDay(Base):
    """Completed redemptions summed per UTC day they were made and per `grain`, with their
    gesture's reason, channel and giver and where and by whom they were made: `coupons` is
    how many gestures were used that day (each counted in one row of a grain that keeps no
    place or person), `redemptions` how many uses, `value` the discounts."""

    __tablename__ = "redemption_days"
    __table_args__ = (Index("ix_redemption_days_org_grain_day", "organization_id", "grain",
                            "day"),)

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=False)
    organization_id: Mapped[OrgFk]
    grain: Mapped[str] = mapped_column(String(10))
    day: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(50))
    agent: Mapped[str | None] = mapped_column(String(320))
    issuer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str | None] = mapped_column(String(20))
    store: Mapped[str | None] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    currency: Mapped[str | None] = mapped_column(String(3))
    coupons: Mapped[int] = mapped_column(BigInteger)
    redemptions: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int] = mapped_column(BigInteger)


class CaseDay(Base):
    """Cases summed per UTC day they were opened and per `grain`: how many, how many fixed,
    the microseconds from opened to fixed (summed, and the longest), and the fixed ones whose
    customer bought again after the fix."""

    __tablename__ = "case_days"
    __table_args__ = (Index("ix_case_days_org_grain_day", "organization_id", "grain", "day"),)

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=False)
    organization_id: Mapped[OrgFk]
    grain: Mapped[str] = mapped_column(String(10))
    day: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(50))
    channel: Mapped[str | None] = mapped_column(String(20))
    root_cause: Mapped[str | None] = mapped_column(String(100))
    agent: Mapped[str | None] = mapped_column(String(320))
    cases: Mapped[int] = mapped_column(BigInteger)
    fixed: Mapped[int] = mapped_column(BigInteger)
    fix_micros: Mapped[int] = mapped_column(BigInteger)
    longest_fix_micros: Mapped[int | None] = mapped_column(BigInteger)
    bought_again: Mapped[int] = mapped_column(BigInteger)


class RollupChange(Base):
    """A change to a roll-up since it was built, written in the write's own transaction and
    deleted by the fold that takes it in (`rollups.days.fold`). Appended, never updated:
    writers never wait for one another.

    Of `rollup` 'gestures', 'redemptions' or 'cases': a day that changed, read from the tables
    until the fold builds it again. Of 'gesture_deltas': what one gesture's change (given,
    used, a use voided, withdrawn) adds to the figures of the day it was given, with what it
    is kept by (its case, giver, channel, currency): reports add it to the roll-up's rows of
    that day until the fold has."""

    __tablename__ = "rollup_changes"
    __table_args__ = (Index("ix_rollup_changes_org_rollup_day", "organization_id", "rollup",
                            "day"),)

    id: Mapped[UUIDPk]
    organization_id: Mapped[OrgFk]
    rollup: Mapped[str] = mapped_column(String(20))
    day: Mapped[str] = mapped_column(String(10))
    case_ref: Mapped[str | None] = mapped_column(String(100), default=None)
    agent: Mapped[str | None] = mapped_column(String(320), default=None)
    issuer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    channel: Mapped[str | None] = mapped_column(String(20), default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    gestures: Mapped[int | None] = mapped_column(BigInteger, default=None)
    face_value: Mapped[int | None] = mapped_column(BigInteger, default=None)
    redeemed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    redeemed_value: Mapped[int | None] = mapped_column(BigInteger, default=None)
    revoked: Mapped[int | None] = mapped_column(BigInteger, default=None)
