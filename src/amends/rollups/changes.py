"""What a write changed in the reports' daily roll-ups, recorded in the write's own transaction
as rows of `rollup_changes`, which the fold takes in and deletes (`rollups.days.fold`).

A gesture's change is recorded as what it adds to the figures of the day it was given (a
*delta*, with its case, giver, channel and currency): given (+1 gesture, its face value),
used (+1 used when it is its first completed use, + the discount), a use voided (the
opposite), withdrawn (its figures move from given to withdrawn). Reports add the deltas to
the roll-up's rows until the fold has: a till's use of last week's gesture changes one row of
last week's day, not the whole day.

Other changes are recorded as the days they changed, which reports read from the tables
until the fold builds them again: a redemption's day (distinct gestures used a day are not a
sum), a case opened, reviewed or fixed (the day it was opened), a purchase (the days the
customer's fixed cases were opened: they may now have bought again), and the days of many
gestures changed at once (withdrawn by an incident, written by the demo's history).

The rows are only ever inserted, so writers never wait for one another; the figures are the
same whenever the fold runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.kit.ids import new_id
from amends.models import Case, Coupon, Redemption, RollupChange

GESTURES, REDEMPTIONS, CASES = "gestures", "redemptions", "cases"
ROLLUPS = (GESTURES, REDEMPTIONS, CASES)
GESTURE_DELTAS = "gesture_deltas"
# What a gesture's delta carries, as `GestureDay` keeps it.
DELTA_MEASURES = ("gestures", "face_value", "redeemed", "redeemed_value", "revoked")
_KEPT_BY = ("case_ref", "agent", "issuer_id", "channel", "currency")


def utc_day(moment: datetime) -> str:
    """The UTC day of `moment`, as the roll-ups key it."""
    return f"{moment.astimezone(UTC):%Y-%m-%d}"


def utc_day_sql(moment: str) -> str:
    """`utc_day` in PostgreSQL, of the timestamp expression `moment` (`rollups.partials.utc_day`
    writes the same through SQLAlchemy)."""
    return f"to_char(timezone('UTC', {moment}), 'YYYY-MM-DD')"


# --- Gestures ---------------------------------------------------------------------------------

def delta_row(coupon: Any, **deltas: int) -> dict[str, Any]:
    """The row of what a change of `coupon` (a `Coupon`, or a row with its columns) adds to
    the figures of the day it was given: `deltas` of `DELTA_MEASURES`, the others 0."""
    unknown = set(deltas) - set(DELTA_MEASURES)
    if unknown:
        raise ValueError(f"not a gesture's figure: {sorted(unknown)}")
    return {"id": new_id(), "organization_id": coupon.organization_id,
            "rollup": GESTURE_DELTAS, "day": utc_day(coupon.issued_at),
            "case_ref": coupon.case_ref, "agent": coupon.issued_by_label,
            "issuer_id": coupon.issued_by_id, "channel": coupon.channel,
            "currency": coupon.currency, **{m: deltas.get(m, 0) for m in DELTA_MEASURES}}


async def _record(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(RollupChange), rows)


async def given(session: AsyncSession, coupons: Iterable[Any]) -> None:
    """New gestures: each adds itself and its face value to the day it was given."""
    await _record(session, [delta_row(c, gestures=1, face_value=c.face_value)
                            for c in coupons])


async def used(session: AsyncSession, coupon: Any, *, uses: int, discount: int) -> None:
    """A completed use of a gesture not withdrawn, taking `discount` off: `uses` is its
    number of completed uses with this one (the first makes it used)."""
    await _record(session, [delta_row(coupon, redeemed=1 if uses == 1 else 0,
                                      redeemed_value=discount)])


async def use_voided(session: AsyncSession, coupon: Any, *, uses: int, discount: int) -> None:
    """A use of a gesture voided: `uses` is its number of completed uses left (none makes it
    unused again). A withdrawn gesture's uses count nowhere: nothing changes."""
    if coupon.status != "revoked":
        await _record(session, [delta_row(coupon, redeemed=-1 if uses == 0 else 0,
                                          redeemed_value=-discount)])


async def withdrawn(session: AsyncSession, coupon: Any) -> None:
    """A gesture withdrawn: its figures move from the given to the withdrawn."""
    uses, spent = (await session.execute(
        select(func.count(), func.coalesce(func.sum(Redemption.discount), 0)).where(
            Redemption.organization_id == coupon.organization_id,
            Redemption.coupon_id == coupon.id, Redemption.status == "completed"))).one()
    await _record(session, [delta_row(
        coupon, gestures=-1, face_value=-coupon.face_value, redeemed=-1 if uses else 0,
        redeemed_value=-int(spent), revoked=1)])


def redeemed_sql(source: str, *, coupon: str, discount: str, now: str) -> str:
    """A redemption's changes in PostgreSQL, for the statements that redeem without the
    session (`redemptions.fastpath`), once per row of `source`: the delta of the gesture of
    row `coupon` (its columns after the claim: issued_at, case_ref, issued_by_label,
    issued_by_id, channel, currency, redemption_count), used for `discount`, and the day it
    was used (`now`). `:organization_id` is the organisation."""
    delta = (f"'{GESTURE_DELTAS}', {utc_day_sql(f'{coupon}.issued_at')}, {coupon}.case_ref, "
             f"{coupon}.issued_by_label, {coupon}.issued_by_id, {coupon}.channel, "
             f"{coupon}.currency, 0, 0, CASE WHEN {coupon}.redemption_count = 1 THEN 1 "
             f"ELSE 0 END, {discount}, 0")
    day = f"'{REDEMPTIONS}', {utc_day_sql(now)}, " + ", ".join(["NULL"] * 10)
    columns = ", ".join(("rollup", "day", *_KEPT_BY, *DELTA_MEASURES))
    return (f"INSERT INTO rollup_changes (id, organization_id, {columns}) "
            f"SELECT gen_random_uuid(), :organization_id, changed.* FROM {source} "
            f"CROSS JOIN LATERAL (VALUES ({delta}), ({day})) AS changed({columns})")


def redeemed_values_sql(*, issued_at: str, case_ref: str, agent: str, issuer_id: str,
                        channel: str, currency: str, uses: str, discount: str, now: str
                        ) -> str:
    """The same rows as `redeemed_sql`, of the gesture's columns given one by one, as a plain
    multi-row INSERT (which Citus routes to the organisation's shard)."""
    columns = ", ".join(("id", "organization_id", "rollup", "day", *_KEPT_BY,
                         *DELTA_MEASURES))
    return (f"INSERT INTO rollup_changes ({columns}) VALUES "
            f"(gen_random_uuid(), :organization_id, '{GESTURE_DELTAS}', "
            f"{utc_day_sql(issued_at)}, {case_ref}, {agent}, {issuer_id}, {channel}, "
            f"{currency}, 0, 0, CASE WHEN {uses} = 1 THEN 1 ELSE 0 END, {discount}, 0), "
            f"(gen_random_uuid(), :organization_id, '{REDEMPTIONS}', {utc_day_sql(now)}, "
            + ", ".join(["NULL"] * 10) + ")")


# --- Days ------------------------------------------------------------------------------------

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
    await _record(session, change_rows(organization_id, gestures=gestures,
                                       redemptions=redemptions, cases=cases))


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
