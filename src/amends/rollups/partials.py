"""The statements of the daily roll-ups' partial sums: per UTC day and the dimensions asked
for, the measures asked for, of the gestures given, the redemptions made or the cases opened
in some periods. The fold builds the roll-ups with them and reports read the days the
roll-ups do not hold with them (`rollups.days`), so both are the same sums."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    true,
)

from amends.models import Case, Coupon, Order, Redemption

# A period: from its start (included) to its end (excluded); None is unbounded.
Range = tuple[datetime | None, datetime | None]


def utc_day(dialect: str, column: Any) -> Any:
    """The UTC day of a timestamp column, 'YYYY-MM-DD' (as `changes.utc_day` in Python and
    `changes.utc_day_sql` in PostgreSQL's own words)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def micros_between(dialect: str, start: Any, end: Any) -> Any:
    """Whole microseconds from `start` to `end`, exactly (on SQLite from the stored text,
    'YYYY-MM-DD HH:MM:SS.ffffff': julianday's floating point would round them)."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start) * 1_000_000, BigInteger)
    seconds = (cast(func.strftime("%s", end), Integer)
               - cast(func.strftime("%s", start), Integer))
    return (seconds * 1_000_000 + cast(func.substr(end, 21, 6), Integer)
            - cast(func.substr(start, 21, 6), Integer))


def within(column: Any, ranges: list[Range]) -> ColumnElement[bool]:
    """`column` falls in one of the periods."""
    conditions = []
    for start, end in ranges:
        bounds = [*([column >= start] if start else []), *([column < end] if end else [])]
        conditions.append(and_(*bounds) if bounds else true())
    return or_(*conditions) if conditions else false()


def sum_of(expression: Any) -> Any:
    return cast(func.coalesce(func.sum(expression), 0), BigInteger)


def _keys(day: Any, columns: dict[str, Any], dims: tuple[str, ...]) -> list[Any]:
    return [day.label("day"), *(columns[d].label(d) for d in dims)]


# Up to so many days, gestures are read one by one through the indexes (their case, their
# uses); beyond, in one pass of hash joins.
PROBED_DAYS = 31


def _few_days(ranges: list[Range]) -> bool:
    span = timedelta()
    for start, end in ranges:
        if start is None or end is None:
            return False
        span += end - start
    return span <= timedelta(days=PROBED_DAYS)


def gestures(dialect: str, organization_id: uuid.UUID, ranges: list[Range],
             dims: tuple[str, ...], measures: tuple[str, ...]) -> Select[Any]:
    """Gestures given in the periods, by UTC day and `dims`: those not withdrawn (how many,
    face value, how many used, the discounts of their completed uses) and those withdrawn.

    A few days' gestures (a period's edges, the days a till's use changed) are read through
    the indexes, each looking up its case and its uses: joining them to every case and
    every use of the organisation, which PostgreSQL's estimates prefer, reads hundreds of
    megabytes at a large company's size. The whole history is read in one pass of joins."""
    given = within(Coupon.issued_at, ranges)
    live = Coupon.status != "revoked"
    completed = [Redemption.organization_id == Coupon.organization_id,
                 Redemption.coupon_id == Coupon.id, Redemption.status == "completed"]
    query = select().select_from(Coupon)
    if _few_days(ranges):
        reason: Any = select(Case.reason).where(
            Case.organization_id == Coupon.organization_id,
            Case.reference == Coupon.case_ref).scalar_subquery()
        uses: Any = select(func.count()).where(*completed).scalar_subquery()
        used: Any = select(func.sum(Redemption.discount)).where(*completed).scalar_subquery()
    else:
        reason = Case.reason
        if "reason" in dims:
            query = query.outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                                               Case.reference == Coupon.case_ref))
        if {"redeemed", "redeemed_value"} & set(measures):
            spent = (
                select(Redemption.organization_id, Redemption.coupon_id,
                       func.count().label("uses"), func.sum(Redemption.discount).label("used"))
                .where(Redemption.organization_id == organization_id,
                       Redemption.status == "completed")
                .group_by(Redemption.organization_id, Redemption.coupon_id).subquery())
            query = query.outerjoin(spent, and_(
                spent.c.organization_id == Coupon.organization_id,
                spent.c.coupon_id == Coupon.id))
            uses, used = spent.c.uses, spent.c.used
    columns = {"reason": reason, "agent": Coupon.issued_by_label,
               "issuer_id": Coupon.issued_by_id, "channel": Coupon.channel,
               "currency": Coupon.currency}
    keys = [utc_day(dialect, Coupon.issued_at), *(columns[d] for d in dims)]
    sums = {"gestures": lambda: case((live, 1), else_=0),
            "face_value": lambda: case((live, Coupon.face_value), else_=0),
            "redeemed": lambda: case((and_(live, uses > 0), 1), else_=0),
            "redeemed_value": lambda: case((live, func.coalesce(used, 0)), else_=0),
            "revoked": lambda: case((live, 0), else_=1)}
    return (query.add_columns(*_keys(keys[0], columns, dims),
                              *(sum_of(sums[m]()).label(m) for m in measures))
            .where(Coupon.organization_id == organization_id, given).group_by(*keys))


def redemptions(dialect: str, organization_id: uuid.UUID, ranges: list[Range],
                dims: tuple[str, ...], measures: tuple[str, ...]) -> Select[Any]:
    """Completed redemptions made in the periods, by UTC day and `dims`: the gestures used
    (each once per group), the uses and the discounts given."""
    columns = {"reason": Case.reason, "agent": Coupon.issued_by_label,
               "issuer_id": Coupon.issued_by_id, "channel": Coupon.channel,
               "store": Redemption.store_id, "actor_id": Redemption.actor_id,
               "currency": Redemption.currency}
    keys = [utc_day(dialect, Redemption.created_at), *(columns[d] for d in dims)]
    totals = {"coupons": cast(func.count(func.distinct(Redemption.coupon_id)), BigInteger),
              "redemptions": cast(func.count(), BigInteger),
              "value": sum_of(Redemption.discount)}
    query = (
        select(*_keys(keys[0], columns, dims), *(totals[m].label(m) for m in measures))
        .select_from(Redemption))
    if {"reason", "agent", "issuer_id", "channel"} & set(dims):
        query = query.join(Coupon, and_(Coupon.organization_id == Redemption.organization_id,
                                        Coupon.id == Redemption.coupon_id))
    if "reason" in dims:
        query = query.outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                                           Case.reference == Coupon.case_ref))
    return query.where(Redemption.organization_id == organization_id,
                       Redemption.status == "completed",
                       within(Redemption.created_at, ranges)).group_by(*keys)


def cases(dialect: str, organization_id: uuid.UUID, ranges: list[Range],
          dims: tuple[str, ...], measures: tuple[str, ...]) -> Select[Any]:
    """Cases opened in the periods, by UTC day and `dims`: how many, how many fixed, the
    microseconds to their fix (summed and the longest), and the fixed ones whose customer
    completed a purchase after the fix."""
    columns = {"reason": Case.reason, "channel": Case.channel, "root_cause": Case.root_cause,
               "agent": Case.opened_by_label}
    keys = [utc_day(dialect, Case.opened_at), *(columns[d] for d in dims)]
    to_fix = micros_between(dialect, Case.opened_at, Case.fixed_at)
    again = select(Order.id).where(
        Order.organization_id == Case.organization_id, Order.customer_id == Case.customer_id,
        Order.status == "completed", Order.completed_at > Case.fixed_at).exists()
    totals = {"cases": cast(func.count(), BigInteger),
              "fixed": cast(func.count(Case.fixed_at), BigInteger),
              "fix_micros": sum_of(to_fix),
              "longest_fix_micros": cast(func.max(to_fix), BigInteger),
              "bought_again": sum_of(case((and_(Case.fixed_at.is_not(None), again), 1),
                                        else_=0))}
    return (
        select(*_keys(keys[0], columns, dims), *(totals[m].label(m) for m in measures))
        .where(Case.organization_id == organization_id, within(Case.opened_at, ranges))
        .group_by(*keys))
