"""Reports: who gave what, what it cost, what was redeemed, how fast cases were fixed and
whether customers came back. Aggregated in SQL (GROUP BY over indexed columns), never by
loading rows into Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def _day(session: AsyncSession, column: Any) -> Any:
    if dialect_of(session) == "postgresql":
        return func.to_char(func.date_trunc("day", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _gestures(actor: Actor, filters: Filters) -> Select[Any]:
    """Coupons of the organisation with their case and issuing person, filtered."""
    redeemed = (
        select(Redemption.coupon_id, func.sum(Redemption.discount).label("redeemed_value"),
               func.count().label("redemptions"))
        .where(Redemption.organization_id == actor.organization_id,
               Redemption.status == "completed")
        .group_by(Redemption.coupon_id).subquery())
    query = cast(Select[Any], (
        select(Coupon, Case.reason, User.team, User.store,
               func.coalesce(redeemed.c.redeemed_value, 0).label("redeemed_value"),
               func.coalesce(redeemed.c.redemptions, 0).label("redemptions"))
        .outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                              Case.reference == Coupon.case_ref))
        .outerjoin(User, User.id == Coupon.issued_by_id)
        .outerjoin(redeemed, redeemed.c.coupon_id == Coupon.id)
        .where(Coupon.organization_id == actor.organization_id, Coupon.status != "revoked")))
    if filters.since:
        query = query.where(Coupon.issued_at >= filters.since)
    if filters.until:
        query = query.where(Coupon.issued_at < filters.until)
    if filters.reason:
        query = query.where(Case.reason == filters.reason)
    if filters.channel:
        query = query.where(Coupon.channel == filters.channel)
    if filters.store:
        query = query.where(User.store == filters.store)
    if filters.agent:
        query = query.where(Coupon.issued_by_label == filters.agent)
    return query


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
        "day": _day(session, base.c.issued_at),
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


async def summary(session: AsyncSession, actor: Actor, *, filters: Filters) -> dict[str, Any]:
    totals = await breakdown(session, actor, by="channel", filters=filters)
    issued = sum(r["issued"] for r in totals)
    redeemed = sum(r["redeemed"] for r in totals)
    cases = select(Case).where(Case.organization_id == actor.organization_id)
    if filters.since:
        cases = cases.where(Case.opened_at >= filters.since)
    if filters.until:
        cases = cases.where(Case.opened_at < filters.until)
    if filters.reason:
        cases = cases.where(Case.reason == filters.reason)
    case_rows = cases.subquery()
    hours = (func.extract("epoch", case_rows.c.fixed_at - case_rows.c.opened_at) / 3600
             if dialect_of(session) == "postgresql" else
             (func.julianday(case_rows.c.fixed_at) - func.julianday(case_rows.c.opened_at)) * 24)
    came_back = select(Order.id).where(
        Order.organization_id == actor.organization_id,
        Order.customer_id == case_rows.c.customer_id, Order.status == "completed",
        Order.completed_at > case_rows.c.fixed_at).exists()
    stats = (await session.execute(select(
        func.count().label("cases"),
        func.count(case_rows.c.fixed_at).label("fixed"),
        func.avg(hours).label("hours_to_fix"),
        func.sum(case((came_back, 1), else_=0)).label("bought_again"),
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
