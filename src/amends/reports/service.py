"""Reports: who gave what, what it cost, what was redeemed, how fast cases were fixed and
whether customers came back. Aggregated in SQL (GROUP BY over indexed columns), never by
loading rows into Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from amends.actor import Actor
from amends.kit.sql import dialect_of
from amends.models import Case, Coupon, Order, Redemption, User

DIMENSIONS = ("reason", "agent", "team", "store", "channel", "day")


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    reason: str | None = None
    channel: str | None = None
    store: str | None = None
    agent: str | None = None


def day_of(session: AsyncSession, column: Any) -> Any:
    if dialect_of(session) == "postgresql":
        return func.to_char(func.date_trunc("day", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _gestures(actor: Actor, filters: Filters) -> Select[Any]:
    """Coupons of the organisation with their case and issuing person, filtered."""
    redeemed = (
        select(Redemption.organization_id, Redemption.coupon_id,
               func.sum(Redemption.discount).label("redeemed_value"),
               func.count().label("redemptions"))
        .where(Redemption.organization_id == actor.organization_id,
               Redemption.status == "completed")
        .group_by(Redemption.organization_id, Redemption.coupon_id).subquery())
    query = cast(Select[Any], (
        select(Coupon, Case.reason, User.team, User.store,
               func.coalesce(redeemed.c.redeemed_value, 0).label("redeemed_value"),
               func.coalesce(redeemed.c.redemptions, 0).label("redemptions"))
        .outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                              Case.reference == Coupon.case_ref))
        .outerjoin(User, and_(User.organization_id == Coupon.organization_id,
                              User.id == Coupon.issued_by_id))
        .outerjoin(redeemed, and_(redeemed.c.organization_id == Coupon.organization_id,
                                  redeemed.c.coupon_id == Coupon.id))
        .where(Coupon.organization_id == actor.organization_id, Coupon.status != "revoked",
               *gesture_filters(filters, moment=Coupon.issued_at))))
    return query


def gesture_filters(filters: Filters, *, moment: Any) -> list[ColumnElement[bool]]:
    """The filters on gestures (joined to their case and to the member of staff who gave
    them), with the period applied to `moment` (when given, when redeemed, ...)."""
    where: list[ColumnElement[bool]] = []
    if filters.since:
        where.append(moment >= filters.since)
    if filters.until:
        where.append(moment < filters.until)
    if filters.reason:
        where.append(Case.reason == filters.reason)
    if filters.channel:
        where.append(Coupon.channel == filters.channel)
    if filters.store:
        where.append(User.store == filters.store)
    if filters.agent:
        where.append(Coupon.issued_by_label == filters.agent)
    return where


async def breakdown(session: AsyncSession, actor: Actor, *, by: str, filters: Filters
                    ) -> list[dict[str, Any]]:
    """Gestures issued and redeemed, face value vs value redeemed, by one dimension."""
    base = _gestures(actor, filters).subquery()
    keys = {
        "reason": func.coalesce(base.c.reason, literal("no case")),
        "agent": base.c.issued_by_label,
        "team": func.coalesce(base.c.team, literal("—")),
        "store": func.coalesce(base.c.store, literal("—")),
        "channel": func.coalesce(base.c.channel, literal("—")),
        "day": day_of(session, base.c.issued_at),
    }
    key = keys[by].label("key")
    used = case((base.c.redemptions > 0, 1), else_=0)
    rows = (await session.execute(
        select(key, func.count().label("issued"), func.sum(used).label("redeemed"),
               func.sum(base.c.face_value).label("face_value"),
               func.sum(base.c.redeemed_value).label("redeemed_value"))
        .group_by(key).order_by(key))).all()
    return [{"key": row.key, "issued": int(row.issued), "redeemed": int(row.redeemed or 0),
             "redemption_rate": round(int(row.redeemed or 0) / int(row.issued), 4),
             "face_value": int(row.face_value or 0),
             "redeemed_value": int(row.redeemed_value or 0)} for row in rows]


async def summary(session: AsyncSession, actor: Actor, *, filters: Filters,
                  totals: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The headline figures. `totals`: a breakdown with the same filters, by any dimension
    (its sums do not depend on the grouping), when the caller has one already."""
    if totals is None:
        totals = await breakdown(session, actor, by="channel", filters=filters)
    issued = sum(r["issued"] for r in totals)
    redeemed = sum(r["redeemed"] for r in totals)
    case_rows = _cases(actor, Filters(since=filters.since, until=filters.until,
                                      reason=filters.reason)).subquery()
    hours = _hours_between(session, case_rows.c.opened_at, case_rows.c.fixed_at)
    again = select(Order.id).where(
        Order.organization_id == case_rows.c.organization_id,
        Order.customer_id == case_rows.c.customer_id, Order.status == "completed",
        Order.completed_at > case_rows.c.fixed_at).exists()
    stats = (await session.execute(select(
        func.count().label("cases"),
        func.count(case_rows.c.fixed_at).label("fixed"),
        func.avg(hours).label("hours_to_fix"),
        func.sum(case((again, 1), else_=0)).label("bought_again"),
    ))).one()
    fixed = int(stats.fixed or 0)
    bought = int(stats.bought_again or 0)
    return {
        "gestures_issued": issued, "gestures_redeemed": redeemed,
        "redemption_rate": round(redeemed / issued, 4) if issued else 0.0,
        "face_value": sum(r["face_value"] for r in totals),
        "redeemed_value": sum(r["redeemed_value"] for r in totals),
        "cases_opened": int(stats.cases or 0), "cases_fixed": fixed,
        "average_hours_to_fix": round(float(stats.hours_to_fix), 2)
        if stats.hours_to_fix is not None else None,
        "customers_bought_again": bought, "customers_not_yet_back": fixed - bought,
    }


async def over_time(session: AsyncSession, actor: Actor, *, filters: Filters
                    ) -> list[dict[str, Any]]:
    """Per day: gestures issued (by the day they were given) and redeemed (by the day they
    were used), with face value issued and value redeemed."""
    base = _gestures(actor, filters).subquery()
    issued_day = day_of(session, base.c.issued_at).label("day")
    issued = (await session.execute(
        select(issued_day, func.count().label("n"), func.sum(base.c.face_value).label("value"))
        .group_by(issued_day))).all()
    used = _redemptions(actor, filters).subquery()
    used_day = day_of(session, used.c.created_at).label("day")
    redeemed = (await session.execute(
        select(used_day, func.count(func.distinct(used.c.coupon_id)).label("n"),
               func.sum(used.c.discount).label("value"))
        .group_by(used_day))).all()
    days: dict[str, dict[str, Any]] = {}
    for row in issued:
        days.setdefault(row.day, _empty_day(row.day)).update(
            issued=int(row.n), face_value=int(row.value or 0))
    for row in redeemed:
        days.setdefault(row.day, _empty_day(row.day)).update(
            redeemed=int(row.n), redeemed_value=int(row.value or 0))
    return [days[day] for day in sorted(days)]


def _empty_day(day: str) -> dict[str, Any]:
    return {"day": day, "issued": 0, "redeemed": 0, "face_value": 0, "redeemed_value": 0}


def _redemptions(actor: Actor, filters: Filters) -> Select[Any]:
    """Completed redemptions in the period, filtered by their gesture's reason, channel,
    store and agent."""
    query = cast(Select[Any], (
        select(Redemption.coupon_id, Redemption.discount, Redemption.created_at,
               Redemption.store_id, Redemption.actor_id, Redemption.currency)
        .join(Coupon, and_(Coupon.organization_id == Redemption.organization_id,
                           Coupon.id == Redemption.coupon_id))
        .outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                              Case.reference == Coupon.case_ref))
        .outerjoin(User, and_(User.organization_id == Coupon.organization_id,
                              User.id == Coupon.issued_by_id))
        .where(Redemption.organization_id == actor.organization_id,
               Redemption.status == "completed",
               *gesture_filters(filters, moment=Redemption.created_at))))
    return query


async def redeemed_by(session: AsyncSession, actor: Actor, *, filters: Filters
                      ) -> list[dict[str, Any]]:
    """Completed redemptions in the period by where and by whom they were made: the store
    (online when none) and the person at the till (a clerk, an agent; "API" for a till's key),
    with their count and the value redeemed, largest first."""
    redeemer = aliased(User)
    used = _redemptions(actor, filters).subquery()
    store = func.coalesce(used.c.store_id, "").label("store")
    person = func.coalesce(redeemer.name, "").label("person")
    rows = (await session.execute(
        select(store, person, used.c.currency, func.count().label("redemptions"),
               func.coalesce(func.sum(used.c.discount), 0).label("value"))
        .select_from(used)
        .outerjoin(redeemer, and_(redeemer.organization_id == actor.organization_id,
                                  redeemer.id == used.c.actor_id))
        .group_by(store, person, used.c.currency)
        .order_by(func.count().desc(), store, person))).all()
    return [{"store": row.store or None, "person": row.person or None,
             "currency": row.currency, "redemptions": int(row.redemptions),
             "value": int(row.value)} for row in rows]


def _cases(actor: Actor, filters: Filters) -> Select[Any]:
    query = select(Case).where(Case.organization_id == actor.organization_id)
    if filters.since:
        query = query.where(Case.opened_at >= filters.since)
    if filters.until:
        query = query.where(Case.opened_at < filters.until)
    if filters.reason:
        query = query.where(Case.reason == filters.reason)
    if filters.channel:
        query = query.where(Case.channel == filters.channel)
    if filters.agent:
        query = query.where(Case.opened_by_label == filters.agent)
    return query


async def time_to_fix(session: AsyncSession, actor: Actor, *, filters: Filters
                      ) -> list[dict[str, Any]]:
    """Per reason: cases opened, cases fixed, and the average and longest hours from opened
    to fixed."""
    rows = _cases(actor, filters).subquery()
    hours = _hours_between(session, rows.c.opened_at, rows.c.fixed_at)
    result = (await session.execute(
        select(rows.c.reason.label("key"), func.count().label("opened"),
               func.count(rows.c.fixed_at).label("fixed"), func.avg(hours).label("avg"),
               func.max(hours).label("max"))
        .group_by(rows.c.reason).order_by(rows.c.reason))).all()
    return [{"key": row.key, "opened": int(row.opened), "fixed": int(row.fixed),
             "average_hours": round(float(row.avg), 2) if row.avg is not None else None,
             "longest_hours": round(float(row.max), 2) if row.max is not None else None}
            for row in result]


def _hours_between(session: AsyncSession, start: Any, end: Any) -> Any:
    if dialect_of(session) == "postgresql":
        return func.extract("epoch", end - start) / 3600
    return (func.julianday(end) - func.julianday(start)) * 24


async def root_causes(session: AsyncSession, actor: Actor, *, now: datetime,
                      filters: Filters, limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent root causes (the reason where none was recorded) of cases opened in
    the seven days before `now`, beside the seven days before that."""
    week = timedelta(days=7)
    rows = _cases(actor, Filters(reason=filters.reason, channel=filters.channel,
                                 agent=filters.agent, since=now - 2 * week, until=now)
                  ).subquery()
    cause = func.coalesce(rows.c.root_cause, rows.c.reason).label("key")
    this_week = func.sum(case((rows.c.opened_at >= now - week, 1), else_=0))
    last_week = func.sum(case((rows.c.opened_at < now - week, 1), else_=0))
    result = (await session.execute(
        select(cause, this_week.label("this_week"), last_week.label("last_week"))
        .group_by(cause).order_by(this_week.desc(), last_week.desc(), cause).limit(limit)
    )).all()
    return [{"key": row.key, "this_week": int(row.this_week or 0),
             "last_week": int(row.last_week or 0),
             "change": int(row.this_week or 0) - int(row.last_week or 0)} for row in result]


async def came_back(session: AsyncSession, actor: Actor, *, filters: Filters
                    ) -> list[dict[str, Any]]:
    """Per reason, of the cases fixed: customers who bought again after the fix, and those
    who have not (yet)."""
    rows = _cases(actor, filters).where(Case.fixed_at.is_not(None)).subquery()
    again = select(Order.id).where(
        Order.organization_id == rows.c.organization_id, Order.customer_id == rows.c.customer_id,
        Order.status == "completed", Order.completed_at > rows.c.fixed_at).exists()
    bought = func.sum(case((again, 1), else_=0))
    result = (await session.execute(
        select(rows.c.reason.label("key"), func.count().label("fixed"), bought.label("bought"))
        .group_by(rows.c.reason).order_by(rows.c.reason))).all()
    return [{"key": row.key, "fixed": int(row.fixed), "bought_again": int(row.bought or 0),
             "not_yet_back": int(row.fixed) - int(row.bought or 0),
             "win_back_rate": round(int(row.bought or 0) / int(row.fixed), 4)}
            for row in result]
