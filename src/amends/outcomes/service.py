"""Outcomes: what amends cost (the ledger) and which ones win customers back.

The ledger follows every gesture from its liability when issued (face value; for percent off,
the expected value from the organisation's average order) to where it went: the discount
actually given when redeemed (and the difference from the face value, `variance`), breakage
when it expired unused (a gift card's unspent balance), reversal when it was revoked, or
still outstanding. Per gesture, and so for any group of them:

    issued = redeemed + variance + breakage + reversed + outstanding

Voided redemptions are not redeemed (the coupon is usable again) and are shown on their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.kit.clock import utcnow
from amends.kit.sql import dialect_of
from amends.models import Case, Coupon, Customer, Order, Redemption, User
from amends.outcomes import stats
from amends.reports.service import Filters, day_of, gesture_filters

LEDGER_DIMENSIONS = ("period", "reason", "agent", "team", "store", "channel", "incident")
WIN_BACK_DAYS = 90
BANDS = {"low": (1, 2), "medium": (3, 3), "high": (4, 5)}


def _sum(expression: Any) -> Any:
    return func.coalesce(func.sum(expression), 0)


async def ledger(session: AsyncSession, actor: Actor, *, by: str, filters: Filters,
                 now: datetime | None = None) -> list[dict[str, Any]]:
    """The cost ledger grouped by one dimension; every row balances."""
    now = now or utcnow()
    completed = (select(Redemption.coupon_id, func.sum(Redemption.discount).label("used"))
                 .where(Redemption.organization_id == actor.organization_id,
                        Redemption.status == "completed")
                 .group_by(Redemption.coupon_id).subquery())
    voided = (select(Redemption.coupon_id, func.sum(Redemption.discount).label("voided"))
              .where(Redemption.organization_id == actor.organization_id,
                     Redemption.status == "voided")
              .group_by(Redemption.coupon_id).subquery())
    used = func.coalesce(completed.c.used, 0)
    gift = Coupon.kind == "gift_card"
    # What is left of the gesture's value: a gift card's balance; a single-use or perk
    # gesture keeps its face value until it is used once.
    left = case((gift, func.coalesce(Coupon.balance, 0)),
                (used > 0, 0), else_=Coupon.face_value)
    revoked = Coupon.status == "revoked"
    expired = and_(Coupon.status != "revoked", Coupon.expires_at <= now)
    variance = case((gift, Coupon.face_value - used - func.coalesce(Coupon.balance, 0)),
                    (used > 0, Coupon.face_value - used), else_=0)
    keys: dict[str, Any] = {
        "period": func.substr(day_of(session, Coupon.issued_at), 1, 7),  # the month
        "reason": func.coalesce(Case.reason, literal("no case")),
        "agent": Coupon.issued_by_label,
        "team": func.coalesce(User.team, literal("—")),
        "store": func.coalesce(User.store, literal("—")),
        "channel": func.coalesce(Coupon.channel, literal("—")),
        "incident": Case.incident_id,
    }
    key = keys[by].label("key")
    query = (
        select(key, func.count().label("gestures"), _sum(Coupon.face_value).label("issued"),
               _sum(used).label("redeemed"), _sum(variance).label("variance"),
               _sum(case((expired, left), else_=0)).label("breakage"),
               _sum(case((revoked, left), else_=0)).label("reversed"),
               _sum(case((or_(revoked, expired), 0), else_=left)).label("outstanding"),
               _sum(func.coalesce(voided.c.voided, 0)).label("voided"))
        .select_from(Coupon)
        .outerjoin(completed, completed.c.coupon_id == Coupon.id)
        .outerjoin(voided, voided.c.coupon_id == Coupon.id)
        .outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                              Case.reference == Coupon.case_ref))
        .outerjoin(User, User.id == Coupon.issued_by_id)
        .where(Coupon.organization_id == actor.organization_id,
               *gesture_filters(filters, moment=Coupon.issued_at))
        .group_by(key).order_by(key))
    rows = []
    for row in (await session.execute(query)).all():
        entry: dict[str, Any] = {"key": str(row.key) if row.key is not None else "—",
                 "gestures": int(row.gestures), "issued": int(row.issued),
                 "redeemed": int(row.redeemed), "variance": int(row.variance),
                 "breakage": int(row.breakage), "reversed": int(row.reversed),
                 "outstanding": int(row.outstanding), "voided": int(row.voided)}
        entry["balanced"] = entry["issued"] == sum(
            entry[k] for k in ("redeemed", "variance", "breakage", "reversed", "outstanding"))
        rows.append(entry)
    return rows


def _within_days(session: AsyncSession, later: Any, earlier: Any, days: int
                 ) -> ColumnElement[bool]:
    if dialect_of(session) == "postgresql":
        return cast(ColumnElement[bool], later <= earlier + func.make_interval(0, 0, 0, days))
    return func.julianday(later) - func.julianday(earlier) <= days


def _won_back(session: AsyncSession, days: int) -> ColumnElement[bool]:
    """The case's customer completed a purchase within `days` of the case being opened."""
    return select(Order.id).where(
        Order.organization_id == Case.organization_id, Order.customer_id == Case.customer_id,
        Order.status == "completed", Order.completed_at > Case.opened_at,
        _within_days(session, Order.completed_at, Case.opened_at, days)).exists()


async def case_outcome(session: AsyncSession, case_row: Case) -> dict[str, Any]:
    """Did the customer buy again within 30 / 90 days, how did they rate us, did they
    complain again (another case within 90 days)?"""
    again = {}
    for days in (30, 90):
        again[days] = bool(await session.scalar(select(Order.id).where(
            Order.organization_id == case_row.organization_id,
            Order.customer_id == case_row.customer_id, Order.status == "completed",
            Order.completed_at > case_row.opened_at,
            Order.completed_at <= case_row.opened_at + timedelta(days=days)).limit(1)))
    complained = bool(await session.scalar(select(Case.id).where(
        Case.organization_id == case_row.organization_id,
        Case.customer_id == case_row.customer_id, Case.id != case_row.id,
        Case.opened_at > case_row.opened_at,
        Case.opened_at <= case_row.opened_at + timedelta(days=90)).limit(1)))
    settled = utcnow() >= case_row.opened_at + timedelta(days=WIN_BACK_DAYS)
    return {"bought_again_30": again[30], "bought_again_90": again[90],
            "feedback": case_row.feedback_score, "complained_again": complained,
            "settled": settled}


def _mature(now: datetime) -> ColumnElement[bool]:
    return Case.opened_at <= now - timedelta(days=WIN_BACK_DAYS)


async def effectiveness(session: AsyncSession, actor: Actor, *, now: datetime | None = None,
                        reason: str | None = None) -> list[dict[str, Any]]:
    """Per reason and gesture (and the apology alone for the hold-out group): cases whose
    outcome is known (opened 90+ days ago), customers won back, the cost per case (the
    discount given) and the uplift over the hold-out with its 95% interval; best value for
    money first within each reason."""
    now = now or utcnow()
    won = case((_won_back(session, WIN_BACK_DAYS), 1), else_=0)
    used = (select(Redemption.coupon_id, func.sum(Redemption.discount).label("used"))
            .where(Redemption.organization_id == actor.organization_id,
                   Redemption.status == "completed").group_by(Redemption.coupon_id).subquery())
    where = [Case.organization_id == actor.organization_id, _mature(now)]
    if reason:
        where.append(Case.reason == reason)
    treated = (await session.execute(
        select(Case.reason, Coupon.name, Coupon.currency, func.count().label("cases"),
               func.sum(won).label("won"), _sum(func.coalesce(used.c.used, 0)).label("cost"))
        .select_from(Case)
        .join(Coupon, and_(Coupon.organization_id == Case.organization_id,
                           Coupon.case_ref == Case.reference, Coupon.customer_id ==
                           Case.customer_id))
        .outerjoin(used, used.c.coupon_id == Coupon.id)
        .where(*where, Case.held_out.is_(False))
        .group_by(Case.reason, Coupon.name, Coupon.currency))).all()
    held = {row.reason: stats.WinBack(int(row.won or 0), int(row.cases)) for row in (
        await session.execute(
            select(Case.reason, func.count().label("cases"), func.sum(won).label("won"))
            .where(*where, Case.held_out.is_(True)).group_by(Case.reason))).all()}
    rows = []
    for row in treated:
        outcomes = stats.WinBack(int(row.won or 0), int(row.cases))
        cost_each = int(row.cost) / outcomes.cases
        entry: dict[str, Any] = {
            "reason": row.reason, "gesture": row.name, "currency": row.currency,
            "cases": outcomes.cases, "won_back": outcomes.won,
            "win_back_rate": round(outcomes.rate, 4), "cost_per_case": round(cost_each),
            "won_back_per_100": round(outcomes.rate / cost_each * 10_000, 4)
            if cost_each else None,
            "holdout_cases": 0, "uplift": None, "uplift_low": None, "uplift_high": None}
        control = held.get(row.reason)
        if control is not None and control.cases:
            effect = stats.uplift(outcomes, control)
            entry.update(holdout_cases=control.cases,
                         holdout_win_back_rate=round(control.rate, 4),
                         uplift=round(effect.estimate, 4), uplift_low=round(effect.low, 4),
                         uplift_high=round(effect.high, 4))
        rows.append(entry)
    # Within a reason: most customers won back per 100 units of cost first (free ones first).
    rows.sort(key=lambda r: (r["reason"], r["won_back_per_100"] is not None,
                             -(r["won_back_per_100"] or 0.0), r["gesture"]))
    return rows


async def similar(session: AsyncSession, *, organization_id: uuid.UUID, reason: str, tier: str,
                  severity: int, incentive_ids: list[str], now: datetime | None = None
                  ) -> list[stats.Option]:
    """The outcomes of each gesture in cases like this one (same reason, customer tier and
    severity band) whose outcome is known."""
    now = now or utcnow()
    low, high = BANDS[stats.severity_band(severity)]
    won = case((_won_back(session, WIN_BACK_DAYS), 1), else_=0)
    rows = (await session.execute(
        select(Coupon.incentive_id, func.count().label("cases"), func.sum(won).label("won"),
               func.avg(Coupon.face_value).label("cost"))
        .select_from(Case)
        .join(Coupon, and_(Coupon.organization_id == Case.organization_id,
                           Coupon.case_ref == Case.reference,
                           Coupon.customer_id == Case.customer_id))
        .join(Customer, Customer.id == Case.customer_id)
        .where(Case.organization_id == organization_id, Case.reason == reason,
               Customer.value_tier == tier, Case.severity.between(low, high),
               Case.held_out.is_(False), _mature(now),
               Coupon.incentive_id.in_([uuid.UUID(i) for i in incentive_ids]))
        .group_by(Coupon.incentive_id))).all()
    return [stats.Option(key=str(row.incentive_id),
                         outcomes=stats.WinBack(int(row.won or 0), int(row.cases)),
                         average_cost=round(float(row.cost or 0))) for row in rows]
