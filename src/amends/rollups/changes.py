"""Which days of the reports' daily roll-ups a write changed.

Every write that changes a figure of a roll-up (`rollups.days`) records the days it changed,
as rows of `rollup_changes`, in its own transaction: a gesture given (the day it was given),
withdrawn (the same day), used or its use voided (the day it was given, and the day it was
used), a case opened, reviewed or fixed (the day it was opened), a purchase completed (the
days the customer's fixed cases were opened: they may now have bought again). The rows are
only ever inserted, so writers never wait for one another, and the fold that builds those
days again deletes them in its own transaction. Until it has, reports read those days from
the tables themselves: the figures are the same whenever the fold runs.

Only the day matters, never the row: one row per (roll-up, day) and write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.kit.ids import new_id
from amends.models import Case, Coupon, RollupChange

GESTURES, REDEMPTIONS, CASES = "gestures", "redemptions", "cases"
ROLLUPS = (GESTURES, REDEMPTIONS, CASES)


def utc_day(moment: datetime) -> str:
    """The UTC day of `moment`, as the roll-ups key it."""
    return f"{moment.astimezone(UTC):%Y-%m-%d}"


def utc_day_sql(moment: str) -> str:
    """`utc_day` in PostgreSQL, of the timestamp expression `moment` (`rollups.partials.utc_day`
    writes the same through SQLAlchemy)."""
    return f"to_char(timezone('UTC', {moment}), 'YYYY-MM-DD')"


_CHANGE_COLUMNS = "INSERT INTO rollup_changes (id, organization_id, rollup, day)"


def redeemed_sql(source: str, *, issued_at: str, now: str) -> str:
    """A redemption's change rows in PostgreSQL, for the statements that redeem without the
    session (`redemptions.fastpath`): the day the gesture was given and the day it was used,
    once per row of `source` (`:organization_id` is the organisation)."""
    return (f"{_CHANGE_COLUMNS} SELECT gen_random_uuid(), :organization_id, changed.rollup, "
            f"changed.day FROM {source} CROSS JOIN LATERAL (VALUES "
            f"('{GESTURES}', {utc_day_sql(issued_at)}), "
            f"('{REDEMPTIONS}', {utc_day_sql(now)})) AS changed(rollup, day)")


def redeemed_values_sql(*, issued_at: str, now: str) -> str:
    """The same rows as `redeemed_sql`, once, as a plain multi-row INSERT (which Citus routes
    to the organisation's shard)."""
    return (f"{_CHANGE_COLUMNS} VALUES "
            f"(gen_random_uuid(), :organization_id, '{GESTURES}', {utc_day_sql(issued_at)}), "
            f"(gen_random_uuid(), :organization_id, '{REDEMPTIONS}', {utc_day_sql(now)})")


def change_rows(organization_id: uuid.UUID, *, gestures: Iterable[datetime] = (),
                redemptions: Iterable[datetime] = (), cases: Iterable[datetime] = ()
                ) -> list[dict[str, object]]:
    """The rows that record the days of these moments as changed, one per roll-up and day."""
    days = {(rollup, utc_day(moment)) for rollup, moments in (
        (GESTURES, gestures), (REDEMPTIONS, redemptions), (CASES, cases)) for moment in moments}
    return [{"id": new_id(), "organization_id": organization_id, "rollup": rollup, "day": day}
            for rollup, day in sorted(days)]


async def changed(session: AsyncSession, organization_id: uuid.UUID, *,
                  gestures: Iterable[datetime] = (), redemptions: Iterable[datetime] = (),
                  cases: Iterable[datetime] = ()) -> None:
    """Record the days of gestures given at `gestures`, redemptions made at `redemptions` and
    cases opened at `cases` as changed, in the session's transaction."""
    rows = change_rows(organization_id, gestures=gestures, redemptions=redemptions,
                       cases=cases)
    if rows:
        await session.execute(insert(RollupChange), rows)


async def gestures_changed(session: AsyncSession, organization_id: uuid.UUID,
                           coupon_ids: list[uuid.UUID]) -> None:
    """The days these gestures were given changed (they were withdrawn together)."""
    issued: set[datetime] = set()
    for start in range(0, len(coupon_ids), 1000):
        issued |= set((await session.scalars(select(Coupon.issued_at).distinct().where(
            Coupon.organization_id == organization_id,
            Coupon.id.in_(coupon_ids[start:start + 1000])))).all())
    await changed(session, organization_id, gestures=issued)


async def customer_bought(session: AsyncSession, organization_id: uuid.UUID,
                          customer_id: uuid.UUID) -> None:
    """The customer completed a purchase: whether they bought again after a fix may have
    changed for each of their fixed cases, on the day it was opened."""
    opened = (await session.scalars(select(Case.opened_at).where(
        Case.organization_id == organization_id, Case.customer_id == customer_id,
        Case.fixed_at.is_not(None)))).all()
    await changed(session, organization_id, cases=opened)
