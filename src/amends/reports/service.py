"""Reports: who gave what, what it cost, what was redeemed, how fast cases were fixed and
whether customers came back.

Every figure is a sum of the partial sums `rollups.days.source` gives for the period: from
the daily roll-ups for the whole days they hold as they are, from the tables for the rest (the
edges of a period that does not start at midnight UTC, the days written since the roll-up was
built, dimensions no roll-up keeps). They are aggregated here, in SQL, by the report's key, so
a report is the same whichever way each day is read; a gesture given a second ago is in it.
A giver's team and store are read from `users` as the report runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from amends.actor import Actor
from amends.kit.sql import dialect_of
from amends.models import User
from amends.rollups.days import CASE_DAYS, GESTURE_DAYS, REDEMPTION_DAYS, Kind, source
from amends.rollups.partials import utc_day

DIMENSIONS = ("reason", "agent", "team", "store", "channel", "day")
MICROS_PER_HOUR = 3_600_000_000


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    reason: str | None = None
    channel: str | None = None
    store: str | None = None
    agent: str | None = None


def day_of(session: AsyncSession, column: Any) -> Any:
    """The UTC day of a timestamp column, 'YYYY-MM-DD'."""
    return utc_day(dialect_of(session), column)


def _hours(micros: Any, count: Any = 1) -> float | None:
    """Microseconds (in all, over `count` cases) as hours, exactly, to two decimals."""
    if micros is None or not count:
        return None
    return round(float(Fraction(int(micros), int(count) * MICROS_PER_HOUR)), 2)


# --- Gestures and their redemptions --------------------------------------------------------

def _gesture_dims(filters: Filters, by: str | None = None) -> set[str]:
    """The dimensions of the partial sums a gesture report needs: its key's and its filters'
    (a team or a store is the giver's, `issuer_id`)."""
    giver = {"team": "issuer_id", "store": "issuer_id"}
    dims = {giver.get(by, by)} if by and by != "day" else set()
    for name, value in (("reason", filters.reason), ("channel", filters.channel),
                        ("agent", filters.agent), ("issuer_id", filters.store)):
        if value:
            dims.add(name)
    return dims


class _Gestures:
    """The partial sums of one gesture report, with the giver's row joined when needed."""

    def __init__(self, rows: Subquery, organization_id: uuid.UUID) -> None:
        self.rows = rows
        self.giver = aliased(User)
        self.organization_id = organization_id

    def of(self, query: Select[Any], filters: Filters) -> Select[Any]:
        rows = self.rows
        query = query.select_from(rows)
        if "issuer_id" in rows.c:
            query = query.outerjoin(self.giver, and_(
                self.giver.organization_id == self.organization_id,
                self.giver.id == rows.c.issuer_id))
        where: list[ColumnElement[bool]] = []
        if filters.reason:
            where.append(rows.c.reason == filters.reason)
        if filters.channel:
            where.append(rows.c.channel == filters.channel)
        if filters.agent:
            where.append(rows.c.agent == filters.agent)
        if filters.store:
            where.append(self.giver.store == filters.store)
        return query.where(*where)

    def key(self, by: str) -> Any:
        rows = self.rows
        if by == "reason":
            return func.coalesce(rows.c.reason, literal("no case"))
        if by == "team":
            return func.coalesce(self.giver.team, literal("—"))
        if by == "store":
            return func.coalesce(self.giver.store, literal("—"))
        if by == "channel":
            return func.coalesce(rows.c.channel, literal("—"))
        return rows.c[by]  # agent, day


async def _partials(session: AsyncSession, actor: Actor, kind: Kind, dims: set[str],
                    measures: tuple[str, ...], filters: Filters) -> _Gestures:
    return _Gestures(await source(session, actor.organization_id, kind, dims, measures,
                                  since=filters.since, until=filters.until),
                     actor.organization_id)


def _total(kind: Kind, rows: Subquery, measure: str) -> Any:
    return kind.combine(rows.c[measure], measure)


GIVEN = ("gestures", "face_value")
USED = ("redeemed", "redeemed_value")


async def _given(session: AsyncSession, actor: Actor, *, by: str, filters: Filters,
                 measures: tuple[str, ...]) -> list[Any]:
    """Per key of `by`: the gestures given (not withdrawn) and the other `measures`."""
    gestures = await _partials(session, actor, GESTURE_DAYS, _gesture_dims(filters, by),
                               measures, filters)
    rows = gestures.rows
    key = gestures.key(by).label("key")
    issued = _total(GESTURE_DAYS, rows, "gestures")
    query = gestures.of(select(key, *(_total(GESTURE_DAYS, rows, m).label(m)
                                      for m in measures)), filters)
    return list((await session.execute(
        query.group_by(key).having(issued > 0).order_by(key))).all())


async def breakdown(session: AsyncSession, actor: Actor, *, by: str, filters: Filters
                    ) -> list[dict[str, Any]]:
    """Gestures issued (not withdrawn) and redeemed, face value vs value redeemed, by one
    dimension."""
    result = await _given(session, actor, by=by, filters=filters, measures=(*GIVEN, *USED))
    return [{"key": row.key, "issued": int(row.gestures), "redeemed": int(row.redeemed),
             "redemption_rate": round(int(row.redeemed) / int(row.gestures), 4),
             "face_value": int(row.face_value), "redeemed_value": int(row.redeemed_value)}
            for row in result]


async def givers(session: AsyncSession, actor: Actor) -> list[str]:
    """Everyone who ever gave a gesture (withdrawn ones too), by their label."""
    rows = await source(session, actor.organization_id, GESTURE_DAYS, {"agent"}, ("gestures",),
                        since=None, until=None)
    return sorted((await session.scalars(select(rows.c.agent).distinct())).all())


async def summary(session: AsyncSession, actor: Actor, *, filters: Filters,
                  totals: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The headline figures. `totals`: a breakdown with the same filters, by any dimension
    (its sums do not depend on the grouping), when the caller has one already."""
    if totals is None:
        totals = await breakdown(session, actor, by="channel", filters=filters)
    issued = sum(r["issued"] for r in totals)
    redeemed = sum(r["redeemed"] for r in totals)
    only = Filters(since=filters.since, until=filters.until, reason=filters.reason)
    measures = ("cases", "fixed", "fix_micros", "bought_again")
    rows = await source(session, actor.organization_id, CASE_DAYS, _case_dims(only), measures,
                        since=only.since, until=only.until)
    stats = (await session.execute(_cases_of(select(
        *(_total(CASE_DAYS, rows, m).label(m) for m in measures)).select_from(rows),
        rows, only))).one()
    fixed, bought = int(stats.fixed), int(stats.bought_again)
    return {
        "gestures_issued": issued, "gestures_redeemed": redeemed,
        "redemption_rate": round(redeemed / issued, 4) if issued else 0.0,
        "face_value": sum(r["face_value"] for r in totals),
        "redeemed_value": sum(r["redeemed_value"] for r in totals),
        "cases_opened": int(stats.cases), "cases_fixed": fixed,
        "average_hours_to_fix": _hours(stats.fix_micros, fixed),
        "customers_bought_again": bought, "customers_not_yet_back": fixed - bought,
    }


async def over_time(session: AsyncSession, actor: Actor, *, filters: Filters
                    ) -> list[dict[str, Any]]:
    """Per day: gestures issued (by the day they were given) and redeemed (by the day they
    were used), with face value issued and value redeemed."""
    days: dict[str, dict[str, Any]] = {}
    for row in await _given(session, actor, by="day", filters=filters, measures=GIVEN):
        days[row.key] = {**_empty_day(row.key), "issued": int(row.gestures),
                         "face_value": int(row.face_value)}
    used = await _partials(session, actor, REDEMPTION_DAYS, _gesture_dims(filters),
                           ("coupons", "value"), filters)
    rows = used.rows
    redeemed = (await session.execute(used.of(select(
        rows.c.day, _total(REDEMPTION_DAYS, rows, "coupons").label("n"),
        _total(REDEMPTION_DAYS, rows, "value").label("value")), filters)
        .group_by(rows.c.day))).all()
    for row in redeemed:
        days.setdefault(row.day, _empty_day(row.day)).update(
            redeemed=int(row.n), redeemed_value=int(row.value))
    return [days[day] for day in sorted(days)]


def _empty_day(day: str) -> dict[str, Any]:
    return {"day": day, "issued": 0, "redeemed": 0, "face_value": 0, "redeemed_value": 0}


async def redeemed_by(session: AsyncSession, actor: Actor, *, filters: Filters
                      ) -> list[dict[str, Any]]:
    """Completed redemptions in the period by where and by whom they were made: the store
    (online when none) and the person at the till (a clerk, an agent; "API" for a till's key),
    with their count and the value redeemed, largest first."""
    used = await _partials(session, actor, REDEMPTION_DAYS,
                           {"store", "actor_id", "currency", *_gesture_dims(filters)},
                           ("redemptions", "value"), filters)
    rows = used.rows
    redeemer = aliased(User)
    store = func.coalesce(rows.c.store, "").label("store")
    person = func.coalesce(redeemer.name, "").label("person")
    count = _total(REDEMPTION_DAYS, rows, "redemptions")
    query = used.of(select(store, person, rows.c.currency, count.label("redemptions"),
                           _total(REDEMPTION_DAYS, rows, "value").label("value")), filters)
    result = (await session.execute(
        query.outerjoin(redeemer, and_(redeemer.organization_id == actor.organization_id,
                                       redeemer.id == rows.c.actor_id))
        .group_by(store, person, rows.c.currency)
        .order_by(count.desc(), store, person))).all()
    return [{"store": row.store or None, "person": row.person or None,
             "currency": row.currency, "redemptions": int(row.redemptions),
             "value": int(row.value)} for row in result]


# --- Cases -----------------------------------------------------------------------------------

def _case_dims(filters: Filters, *keys: str) -> set[str]:
    """The dimensions of the partial sums a case report needs (the store is not a case's)."""
    dims = set(keys)
    for name, value in (("reason", filters.reason), ("channel", filters.channel),
                        ("agent", filters.agent)):
        if value:
            dims.add(name)
    return dims


def _cases_of(query: Select[Any], rows: Subquery, filters: Filters) -> Select[Any]:
    for name, value in (("reason", filters.reason), ("channel", filters.channel),
                        ("agent", filters.agent)):
        if value:
            query = query.where(rows.c[name] == value)
    return query


async def _case_rows(session: AsyncSession, actor: Actor, filters: Filters,
                     keys: tuple[str, ...], measures: tuple[str, ...]) -> Subquery:
    return await source(session, actor.organization_id, CASE_DAYS, _case_dims(filters, *keys),
                        measures, since=filters.since, until=filters.until)


async def time_to_fix(session: AsyncSession, actor: Actor, *, filters: Filters
                      ) -> list[dict[str, Any]]:
    """Per reason: cases opened, cases fixed, and the average and longest hours from opened
    to fixed."""
    rows = await _case_rows(session, actor, filters, ("reason",),
                            ("cases", "fixed", "fix_micros", "longest_fix_micros"))
    fixed = _total(CASE_DAYS, rows, "fixed")
    result = (await session.execute(_cases_of(select(
        rows.c.reason.label("key"), _total(CASE_DAYS, rows, "cases").label("opened"),
        fixed.label("fixed"), _total(CASE_DAYS, rows, "fix_micros").label("micros"),
        _total(CASE_DAYS, rows, "longest_fix_micros").label("longest")), rows, filters)
        .group_by(rows.c.reason).order_by(rows.c.reason))).all()
    return [{"key": row.key, "opened": int(row.opened), "fixed": int(row.fixed),
             "average_hours": _hours(row.micros, row.fixed),
             "longest_hours": _hours(row.longest)} for row in result]


async def root_causes(session: AsyncSession, actor: Actor, *, now: datetime,
                      filters: Filters, limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent root causes (the reason where none was recorded) of cases opened in
    the seven days before `now`, beside the seven days before that."""
    week = timedelta(days=7)
    weeks = []
    for recent, since, until in ((0, now - 2 * week, now - week), (1, now - week, now)):
        period = Filters(reason=filters.reason, channel=filters.channel, agent=filters.agent,
                         since=since, until=until)
        rows = await _case_rows(session, actor, period, ("reason", "root_cause"), ("cases",))
        weeks.append(_cases_of(select(
            func.coalesce(rows.c.root_cause, rows.c.reason).label("key"),
            literal(recent).label("recent"), rows.c.cases), rows, period))
    both = union_all(*weeks).subquery()
    this_week = func.sum(case((both.c.recent == 1, both.c.cases), else_=0))
    last_week = func.sum(case((both.c.recent == 0, both.c.cases), else_=0))
    result = (await session.execute(
        select(both.c.key, this_week.label("this_week"), last_week.label("last_week"))
        .group_by(both.c.key).order_by(this_week.desc(), last_week.desc(), both.c.key)
        .limit(limit))).all()
    return [{"key": row.key, "this_week": int(row.this_week or 0),
             "last_week": int(row.last_week or 0),
             "change": int(row.this_week or 0) - int(row.last_week or 0)} for row in result]


async def came_back(session: AsyncSession, actor: Actor, *, filters: Filters
                    ) -> list[dict[str, Any]]:
    """Per reason, of the cases fixed: customers who bought again after the fix, and those
    who have not (yet)."""
    rows = await _case_rows(session, actor, filters, ("reason",), ("fixed", "bought_again"))
    fixed = _total(CASE_DAYS, rows, "fixed")
    bought = _total(CASE_DAYS, rows, "bought_again")
    result = (await session.execute(_cases_of(select(
        rows.c.reason.label("key"), fixed.label("fixed"), bought.label("bought")), rows,
        filters).group_by(rows.c.reason).having(fixed > 0).order_by(rows.c.reason))).all()
    return [{"key": row.key, "fixed": int(row.fixed), "bought_again": int(row.bought),
             "not_yet_back": int(row.fixed) - int(row.bought),
             "win_back_rate": round(int(row.bought) / int(row.fixed), 4)}
            for row in result]
