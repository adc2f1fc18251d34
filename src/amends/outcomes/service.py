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

import time
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Uuid,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.jobs import periodic
from amends.kit.clock import utcnow
from amends.kit.sql import dialect_of, get_or_insert
from amends.models import (
    Case,
    Coupon,
    Customer,
    LedgerRollup,
    Order,
    OutcomeRollup,
    Redemption,
    RollupRun,
    User,
)
from amends.outcomes import stats
from amends.reports.service import Filters, day_of
from amends.rollups import days as daily

LEDGER_DIMENSIONS = ("period", "reason", "agent", "team", "store", "channel", "incident")
WIN_BACK_DAYS = 90
BANDS = {"low": (1, 2), "medium": (3, 3), "high": (4, 5)}


def _sum(expression: Any) -> Any:
    return func.coalesce(func.sum(expression), 0)


def _ledger_rows(session: AsyncSession, organization_id: uuid.UUID, now: datetime
                 ) -> Select[Any]:
    """Every gesture of the organisation summed per day given, reason, agent, team, store,
    channel and incident: the ledger's columns, each group balancing."""
    # One pass over the redemptions: what each coupon gave, and what was given then voided.
    spent = (select(Redemption.organization_id, Redemption.coupon_id,
                    func.sum(case((Redemption.status == "completed", Redemption.discount),
                                  else_=0)).label("used"),
                    func.sum(case((Redemption.status == "voided", Redemption.discount),
                                  else_=0)).label("voided"))
             .where(Redemption.organization_id == organization_id)
             .group_by(Redemption.organization_id, Redemption.coupon_id).subquery())
    used = func.coalesce(spent.c.used, 0)
    gift = Coupon.kind == "gift_card"
    # What is left of the gesture's value: a gift card's balance; a single-use or perk
    # gesture keeps its face value until it is used once.
    left = case((gift, func.coalesce(Coupon.balance, 0)),
                (used > 0, 0), else_=Coupon.face_value)
    revoked = Coupon.status == "revoked"
    expired = and_(Coupon.status != "revoked", Coupon.expires_at <= now)
    variance = case((gift, Coupon.face_value - used - func.coalesce(Coupon.balance, 0)),
                    (used > 0, Coupon.face_value - used), else_=0)
    dims = (day_of(session, Coupon.issued_at), Case.reason, Coupon.issued_by_label, User.team,
            User.store, Coupon.channel, Case.incident_id)
    return (
        select(literal(organization_id, Uuid), *dims, func.count(), _sum(Coupon.face_value),
               _sum(used), _sum(variance), _sum(case((expired, left), else_=0)),
               _sum(case((revoked, left), else_=0)),
               _sum(case((or_(revoked, expired), 0), else_=left)),
               _sum(func.coalesce(spent.c.voided, 0)))
        .select_from(Coupon)
        .outerjoin(spent, and_(spent.c.organization_id == Coupon.organization_id,
                               spent.c.coupon_id == Coupon.id))
        .outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                              Case.reference == Coupon.case_ref))
        .outerjoin(User, and_(User.organization_id == Coupon.organization_id,
                              User.id == Coupon.issued_by_id))
        .where(Coupon.organization_id == organization_id)
        .group_by(*dims))


LEDGER_COLUMNS = ("gestures", "issued", "redeemed", "variance", "breakage", "reversed",
                  "outstanding", "voided")
# The roll-ups' coarser grains and the dimensions each keeps (rows of grain 'all' keep every
# one): a large company's ledger by month or reason reads thousands of rows, not every
# combination of day, reason, agent, channel and incident.
LEDGER_GRAINS: dict[str, tuple[str, ...]] = {
    "reason": ("reason", "channel"), "agent": ("agent", "team", "store"),
    "incident": ("incident_id",)}
OUTCOME_GRAINS: dict[str, tuple[str, ...]] = {
    "gesture": ("reason", "held_out", "incentive_id", "gesture", "currency")}
OUTCOME_COLUMNS = ("cases", "won", "face_value", "redeemed")
_LEDGER_KEYS = {"period": (), "reason": ("reason",), "agent": ("agent",), "team": ("team",),
                "store": ("store",), "channel": ("channel",), "incident": ("incident_id",)}


async def ledger(session: AsyncSession, actor: Actor, *, by: str, filters: Filters
                 ) -> list[dict[str, Any]]:
    """The cost ledger grouped by one dimension, from the roll-up (`refresh`); every row
    balances. The period filters apply to the day the gesture was given."""
    r = LedgerRollup
    keys: dict[str, Any] = {
        "period": func.substr(r.day, 1, 7),  # the month
        "reason": func.coalesce(r.reason, literal("no case")),
        "agent": r.agent, "team": func.coalesce(r.team, literal("—")),
        "store": func.coalesce(r.store, literal("—")),
        "channel": func.coalesce(r.channel, literal("—")), "incident": r.incident_id,
    }
    key = keys[by].label("key")
    needed = set(_LEDGER_KEYS[by]) | {name for name, value in (
        ("reason", filters.reason), ("channel", filters.channel), ("store", filters.store),
        ("agent", filters.agent)) if value}
    grain = next((name for name, dims in LEDGER_GRAINS.items() if needed <= set(dims)), "all")
    where = [r.organization_id == actor.organization_id, r.grain == grain]
    if filters.since:
        where.append(r.day >= f"{filters.since:%Y-%m-%d}")
    if filters.until:
        where.append(r.day < f"{filters.until:%Y-%m-%d}")
    for column, value in ((r.reason, filters.reason), (r.channel, filters.channel),
                          (r.store, filters.store), (r.agent, filters.agent)):
        if value:
            where.append(column == value)
    query = (select(key, *(_sum(getattr(r, c)).label(c) for c in LEDGER_COLUMNS))
             .where(*where).group_by(key).order_by(key))
    rows = []
    for row in (await session.execute(query)).all():
        entry: dict[str, Any] = {"key": str(row.key) if row.key is not None else "—",
                                 **{c: int(getattr(row, c)) for c in LEDGER_COLUMNS}}
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


def _numbered(rows: Select[Any]) -> Select[Any]:
    """The rows with an id counted from 1: an organisation's roll-ups are rebuilt whole, so
    (organization_id, row number) is their key without a sequence shared by every node."""
    numbered = rows.subquery()
    return select(func.row_number().over().label("id"), *numbered.c)


def _outcome_rows(session: AsyncSession, organization_id: uuid.UUID) -> Select[Any]:
    """Every case of the organisation summed per day opened, reason, customer tier, severity,
    hold-out and gesture: cases, customers won back (a purchase within 90 days), face value
    and the discount actually given."""
    won = case((_won_back(session, WIN_BACK_DAYS), 1), else_=0)
    used = (select(Redemption.organization_id, Redemption.coupon_id,
                   func.sum(Redemption.discount).label("used"))
            .where(Redemption.organization_id == organization_id,
                   Redemption.status == "completed")
            .group_by(Redemption.organization_id, Redemption.coupon_id).subquery())
    dims = (day_of(session, Case.opened_at), Case.reason, Customer.value_tier, Case.severity,
            Case.held_out, Coupon.incentive_id, Coupon.name, Coupon.currency)
    return (
        select(literal(organization_id, Uuid), *dims, func.count(), _sum(won),
               _sum(func.coalesce(Coupon.face_value, 0)), _sum(func.coalesce(used.c.used, 0)))
        .select_from(Case)
        .join(Customer, and_(Customer.organization_id == Case.organization_id,
                             Customer.id == Case.customer_id))
        .outerjoin(Coupon, and_(Coupon.organization_id == Case.organization_id,
                                Coupon.case_ref == Case.reference))
        .outerjoin(used, and_(used.c.organization_id == Coupon.organization_id,
                              used.c.coupon_id == Coupon.id))
        .where(Case.organization_id == organization_id)
        .group_by(*dims))


async def refresh(session: AsyncSession, organization_id: uuid.UUID,
                  now: datetime | None = None) -> RollupRun:
    """Rebuild the organisation's roll-ups of the ledger and of outcomes, and every day of
    its daily roll-ups (`rollups.days.rebuild`: the repair of what the fold keeps up to date),
    in one transaction (readers see the old ones until it commits). Hourly by the
    `outcomes.rollup` job, and on request (`POST /v1/reports/refresh`)."""
    now = now or utcnow()
    started = time.perf_counter()
    # Refreshes of one organisation take turns on its run row: two at once would each delete
    # the old roll-ups and insert new ones, and on PostgreSQL neither delete sees the rows the
    # other inserts (every figure twice).
    run, _ = await get_or_insert(session, RollupRun, key={"organization_id": organization_id},
                                 values={"refreshed_at": now, "seconds": 0.0}, lock=True)
    for table in (LedgerRollup, OutcomeRollup):
        await session.execute(delete(table).where(table.organization_id == organization_id))
    ledger_columns = ["organization_id", "day", "reason", "agent", "team", "store", "channel",
                      "incident_id", *LEDGER_COLUMNS]
    await session.execute(insert(LedgerRollup).from_select(
        ["id", *ledger_columns], _numbered(_ledger_rows(session, organization_id, now))))
    await session.execute(insert(OutcomeRollup).from_select(
        ["id", "organization_id", "day", "reason", "tier", "severity", "held_out",
         "incentive_id", "gesture", "currency", *OUTCOME_COLUMNS],
        _numbered(_outcome_rows(session, organization_id))))
    await _coarser(session, LedgerRollup, organization_id, LEDGER_GRAINS, LEDGER_COLUMNS)
    await _coarser(session, OutcomeRollup, organization_id, OUTCOME_GRAINS, OUTCOME_COLUMNS)
    await daily.rebuild(session, organization_id)
    run.refreshed_at, run.seconds = now, round(time.perf_counter() - started, 3)
    await session.flush()
    return run


async def _coarser(session: AsyncSession, table: Any, organization_id: uuid.UUID,
                   grains: dict[str, tuple[str, ...]], measures: tuple[str, ...]) -> None:
    """Each coarser grain's rows, summed from the rows of grain 'all' just built."""
    for grain, dims in grains.items():
        after = int(await session.scalar(select(func.coalesce(func.max(table.id), 0)).where(
            table.organization_id == organization_id)) or 0)
        keys = (table.day, *(getattr(table, d) for d in dims))
        rows = (select(*keys, *(_sum(getattr(table, m)).label(m) for m in measures))
                .where(table.organization_id == organization_id, table.grain == "all")
                .group_by(*keys).subquery())
        columns = ["day", *dims, *measures]
        await session.execute(insert(table).from_select(
            ["id", "organization_id", "grain", *columns],
            select(func.row_number().over() + after, literal(organization_id, Uuid),
                   literal(grain), *(rows.c[c] for c in columns))))


async def refresh_all(session: AsyncSession, *,
                      organization_id: uuid.UUID | str | None = None) -> int:
    """The roll-up job: every organisation that has cases or gestures (or the one given).
    Each organisation's refresh is its own part (`jobs.periodic`): one that fails is rolled
    back alone, recorded for its admin, and the others' roll-ups are still rebuilt.
    Returns how many were rebuilt."""
    if organization_id is not None:
        organizations = {uuid.UUID(str(organization_id))}
    else:
        organizations = set((await session.scalars(select(Case.organization_id).distinct())
                              ).all())
        organizations |= set((await session.scalars(select(Coupon.organization_id).distinct())
                              ).all())
    rebuilt = 0
    async with periodic.each_organization(session, "outcomes.rollup",
                                          only=organization_id) as parts:
        for owner in sorted(organizations):
            if await parts.run(owner, partial(refresh, session, owner)) is not None:
                rebuilt += 1
    return rebuilt


def _mature_day(now: datetime) -> str:
    return f"{now - timedelta(days=WIN_BACK_DAYS):%Y-%m-%d}"


async def effectiveness(session: AsyncSession, actor: Actor, *, now: datetime | None = None,
                        reason: str | None = None) -> list[dict[str, Any]]:
    """Per reason and gesture (and the apology alone for the hold-out group): cases whose
    outcome is known (opened 90+ days ago), customers won back, the cost per case (the
    discount given) and the uplift over the hold-out with its 95% interval; best value for
    money first within each reason. From the roll-up (`refresh`)."""
    r = OutcomeRollup
    where = [r.organization_id == actor.organization_id, r.grain == "gesture",
             r.day <= _mature_day(now or utcnow())]
    if reason:
        where.append(r.reason == reason)
    treated = (await session.execute(
        select(r.reason, r.gesture, r.currency, _sum(r.cases).label("cases"),
               _sum(r.won).label("won"), _sum(r.redeemed).label("cost"))
        .where(*where, r.held_out.is_(False), r.incentive_id.is_not(None))
        .group_by(r.reason, r.gesture, r.currency))).all()
    held = {row.reason: stats.WinBack(int(row.won), int(row.cases)) for row in (
        await session.execute(
            select(r.reason, _sum(r.cases).label("cases"), _sum(r.won).label("won"))
            .where(*where, r.held_out.is_(True)).group_by(r.reason))).all()}
    rows = []
    for row in treated:
        outcomes = stats.WinBack(int(row.won), int(row.cases))
        cost_each = int(row.cost) / outcomes.cases
        entry: dict[str, Any] = {
            "reason": row.reason, "gesture": row.gesture, "currency": row.currency,
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
    severity band) whose outcome is known, from the roll-up."""
    low, high = BANDS[stats.severity_band(severity)]
    r = OutcomeRollup
    rows = (await session.execute(
        select(r.incentive_id, _sum(r.cases).label("cases"), _sum(r.won).label("won"),
               _sum(r.face_value).label("face_value"))
        .where(r.organization_id == organization_id, r.grain == "all", r.reason == reason,
               r.tier == tier,
               r.severity.between(low, high), r.held_out.is_(False),
               r.day <= _mature_day(now or utcnow()),
               r.incentive_id.in_([uuid.UUID(i) for i in incentive_ids]))
        .group_by(r.incentive_id))).all()
    return [stats.Option(key=str(row.incentive_id),
                         outcomes=stats.WinBack(int(row.won), int(row.cases)),
                         average_cost=round(int(row.face_value) / int(row.cases)))
            for row in rows if int(row.cases)]
