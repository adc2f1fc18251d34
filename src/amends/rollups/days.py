"""Daily roll-ups of gestures, redemptions and cases: what the reports read at a large
company's size (a year of 3,000,000 gestures is a few tens of thousands of roll-up rows).

Each roll-up (`GestureDay`, `RedemptionDay`, `CaseDay`) holds partial sums per UTC day and
per *grain*: a set of dimensions its rows keep, the others being null. Gestures are kept by
reason, channel and currency, and by giver (label and member of staff: their team and store
are read from `users` when the report runs, so a move between teams counts as it does in the
tables); redemptions by the same two and by store and person at the till; cases by reason,
channel and root cause. Partial sums add up: a report sums them per its own key.

A report asks `source()` for the partial sums of a period by some dimensions, and gets rows
from up to three places, in one statement:

- the roll-up, for the whole UTC days of the period that no write has changed as a whole
  since they were built, when one of its grains keeps the dimensions asked for;
- for gestures, the deltas of those days not yet folded (`rollups.changes`: what a gesture
  given, used, a use voided or a gesture withdrawn adds to its day's figures);
- the tables themselves for the rest: the partial days at the edges of a period that does not
  start and end at midnight UTC, the days a write changed as a whole (a redemption's day, a
  case's, gestures changed in bulk), and any period by dimensions no grain keeps (a reason
  and an agent at once, say). They are summed by `Kind.partials`, the very statement that
  builds the roll-up.

So a figure is the same whichever way each of its days is read, and a gesture given a second
ago is in the next report. `fold` keeps the roll-ups close to the tables (every ten seconds,
`rollups.tasks`, so that few days are read from the tables): it builds the changed days
again and adds the deltas to the roll-up, each in one statement that deletes exactly the
changes it takes in (a write that commits meanwhile leaves its change for the next fold).
`rebuild` builds every day (the hourly repair, `outcomes.refresh`). An organisation's folds
and rebuilds take turns on its `RollupRun` row; writers never wait for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Subquery,
    Uuid,
    and_,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from amends.kit.clock import utcnow
from amends.kit.sql import dialect_of, get_or_insert
from amends.models import Case, CaseDay, GestureDay, RedemptionDay, RollupChange, RollupRun
from amends.rollups import partials
from amends.rollups.changes import CASES, GESTURE_DELTAS, GESTURES, REDEMPTIONS
from amends.rollups.partials import Range

BUILD_WORK_MEM = "256MB"


@dataclass(frozen=True)
class Kind:
    """One roll-up: its table, the dimensions its partial sums can be taken by, its grains
    (the dimensions its rows keep), its measures and the statement of its partial sums."""

    name: str
    table: Any
    dimensions: tuple[str, ...]
    grains: dict[str, tuple[str, ...]]
    measures: tuple[str, ...]
    partials: Callable[[str, uuid.UUID, list[Range], tuple[str, ...], tuple[str, ...]],
                       Select[Any]]
    # Measures combined by their largest value rather than their sum.
    maxima: frozenset[str] = frozenset()

    def grain_for(self, wanted: Iterable[str]) -> str | None:
        """The grain whose rows keep every dimension wanted, if one does."""
        needed = set(wanted)
        return next((name for name, dims in self.grains.items() if needed <= set(dims)),
                    None)

    def combine(self, column: Any, measure: str) -> Any:
        """A report's aggregate of one measure of the partial sums."""
        if measure in self.maxima:
            return func.max(column)
        return partials.sum_of(column)


GESTURE_DAYS = Kind(
    GESTURES, GestureDay, ("reason", "agent", "issuer_id", "channel", "currency"),
    {"reason": ("reason", "channel", "currency"), "agent": ("agent", "issuer_id", "currency")},
    ("gestures", "face_value", "redeemed", "redeemed_value", "revoked"), partials.gestures)
# `coupons` adds up over rows whose dimensions are all of the gesture (a gesture used twice in
# a day at two stores is in two rows of the `till` grain).
REDEMPTION_DAYS = Kind(
    REDEMPTIONS, RedemptionDay,
    ("reason", "agent", "issuer_id", "channel", "store", "actor_id", "currency"),
    {"reason": ("reason", "channel", "currency"), "agent": ("agent", "issuer_id", "currency"),
     "till": ("store", "actor_id", "currency")},
    ("coupons", "redemptions", "value"), partials.redemptions)
CASE_DAYS = Kind(
    CASES, CaseDay, ("reason", "channel", "root_cause", "agent"),
    {"reason": ("reason", "channel", "root_cause")},
    ("cases", "fixed", "fix_micros", "longest_fix_micros", "bought_again"), partials.cases,
    maxima=frozenset({"longest_fix_micros"}))
KINDS = {kind.name: kind for kind in (GESTURE_DAYS, REDEMPTION_DAYS, CASE_DAYS)}


# --- Reading ---------------------------------------------------------------------------------

def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _whole_days(since: datetime | None, until: datetime | None
                ) -> tuple[date | None, date | None]:
    """The first UTC day wholly in the period and the day after the last (None: unbounded)."""
    first = last = None
    if since is not None:
        first = since.astimezone(UTC).date()
        if _midnight(first) < since:
            first += timedelta(days=1)
    if until is not None:
        last = until.astimezone(UTC).date()
    return first, last


def day_ranges(days: Iterable[str]) -> list[Range]:
    """The periods the UTC days cover, consecutive days merged."""
    ranges: list[tuple[datetime, datetime]] = []
    for day in sorted(set(days)):
        start = _midnight(date.fromisoformat(day))
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + timedelta(days=1))
        else:
            ranges.append((start, start + timedelta(days=1)))
    return list(ranges)


async def stale_days(session: AsyncSession, organization_id: uuid.UUID, kind: str, *,
                     first: date | None = None, last: date | None = None) -> list[str]:
    """The days of a roll-up that writes changed since they were built (from `first`, before
    `last`)."""
    query = select(RollupChange.day).distinct().where(
        RollupChange.organization_id == organization_id, RollupChange.rollup == kind)
    if first is not None:
        query = query.where(RollupChange.day >= first.isoformat())
    if last is not None:
        query = query.where(RollupChange.day < last.isoformat())
    return sorted((await session.scalars(query)).all())


async def source(session: AsyncSession, organization_id: uuid.UUID, kind: Kind,
                 dims: Iterable[str], measures: Iterable[str], *, since: datetime | None,
                 until: datetime | None) -> Subquery:
    """The partial sums of `kind`'s `measures` for the period, by UTC day (`day`) and at
    least `dims` (the grain's dimensions when one keeps them all): from the roll-up for the
    whole days it holds as they are, from the tables for the rest (see the module's
    docstring). It has no other measure: the tables' part computes only those. A report
    aggregates the rows by its key with `Kind.combine`."""
    wanted = set(dims)
    sums = tuple(m for m in kind.measures if m in set(measures))
    grain = kind.grain_for(wanted)
    dialect = dialect_of(session)
    first, last = _whole_days(since, until)
    if grain is None or (first is not None and last is not None and first >= last):
        keep = tuple(d for d in kind.dimensions if d in wanted)
        return kind.partials(dialect, organization_id, [(since, until)], keep, sums
                             ).subquery()
    keep = kind.grains[grain]
    need = tuple(d for d in kind.dimensions if d in wanted)
    stale = await stale_days(session, organization_id, kind.name, first=first, last=last)
    raw: list[Range] = day_ranges(stale)
    if since is not None and first is not None and since < _midnight(first):
        raw.append((since, _midnight(first)))
    if until is not None and last is not None and _midnight(last) < until:
        raw.append((_midnight(last), until))
    table = kind.table
    def rolled_days(day: Any) -> list[ColumnElement[bool]]:
        """The days read from the roll-up: the period's whole days no write changed."""
        return [*([day >= first.isoformat()] if first is not None else []),
                *([day < last.isoformat()] if last is not None else []),
                *([day.not_in(stale)] if stale else [])]

    rolled = select(table.day.label("day"), *(getattr(table, d).label(d) for d in keep),
                    *(getattr(table, m).label(m) for m in sums)).where(
        table.organization_id == organization_id, table.grain == grain,
        *rolled_days(table.day))
    parts: list[Select[Any]] = [rolled]
    if kind is GESTURE_DAYS:
        # Gestures' changes not yet folded, on the days read from the roll-up.
        pending = select(RollupChange).where(
            RollupChange.organization_id == organization_id,
            RollupChange.rollup == GESTURE_DELTAS, *rolled_days(RollupChange.day))
        parts.append(_deltas(pending.subquery(), organization_id, keep, sums))
    if raw:
        # The tables' rows by the dimensions wanted only (fewer joins), the grain's others
        # null: a report groups by what it wanted, and a day is read from one place or the
        # other.
        summed = kind.partials(dialect, organization_id, raw, need, sums).subquery()
        parts.append(select(
            summed.c.day, *(summed.c[d] if d in need else _null(kind, d) for d in keep),
            *(summed.c[m] for m in sums)))
    return union_all(*parts).subquery() if len(parts) > 1 else rolled.subquery()


def _null(kind: Kind, dimension: str) -> Any:
    """A dimension a row does not keep: a null of the column's type (in a UNION, PostgreSQL
    reads untyped nulls of several rows as text)."""
    return cast(null(), kind.table.__table__.c[dimension].type).label(dimension)


def _deltas(changes: Any, organization_id: uuid.UUID, dims: tuple[str, ...],
            measures: tuple[str, ...]) -> Select[Any]:
    """Gestures' deltas (rows of `changes`, the change table's columns) summed per day and
    `dims`, their reason read from their case."""
    columns = {"reason": Case.reason, "agent": changes.c.agent,
               "issuer_id": changes.c.issuer_id, "channel": changes.c.channel,
               "currency": changes.c.currency}
    keys = [changes.c.day, *(columns[d] for d in dims)]
    query = select(changes.c.day.label("day"), *(columns[d].label(d) for d in dims),
                   *(partials.sum_of(changes.c[m]).label(m) for m in measures)
                   ).select_from(changes)
    if "reason" in dims:
        query = query.outerjoin(Case, and_(Case.organization_id == organization_id,
                                           Case.reference == changes.c.case_ref))
    return query.group_by(*keys)


# --- Building --------------------------------------------------------------------------------

async def _take_turn(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Wait for the organisation's other fold or rebuild to commit: two at once would each
    delete a day and insert it again, and neither delete sees the other's rows."""
    await get_or_insert(session, RollupRun, key={"organization_id": organization_id},
                        values={"refreshed_at": utcnow(), "seconds": 0.0}, lock=True)


def _grains(kind: Kind, rows: Callable[[str, tuple[str, ...]], Select[Any]]
            ) -> CompoundSelect[Any]:
    """Every grain's rows as the table holds them (`grain`, day, every dimension, the
    measures), `rows(grain, dims)` giving each grain's day, dimensions and measures."""
    dimensions = [d for d in kind.dimensions if any(d in g for g in kind.grains.values())]
    selects = []
    for grain, dims in kind.grains.items():
        summed = rows(grain, dims).subquery()
        selects.append(select(
            literal(grain).label("grain"), summed.c.day,
            *(summed.c[d] if d in dims else _null(kind, d) for d in dimensions),
            *(summed.c[m] for m in kind.measures)))
    return union_all(*selects)


def _insert(kind: Kind, organization_id: uuid.UUID, rows: CompoundSelect[Any]) -> Any:
    """INSERT of `_grains` rows, their ids counted on from the organisation's last one."""
    table = kind.table
    grains = rows.subquery()
    after = select(func.coalesce(func.max(table.id), 0)).where(
        table.organization_id == organization_id).scalar_subquery()
    names = [c.name for c in grains.c]
    return insert(table).from_select(
        ["id", "organization_id", *names],
        select(func.row_number().over() + after, literal(organization_id, Uuid),
               *grains.c))


def _marks(kind: Kind) -> list[str]:
    """The change rows a rebuild of `kind`'s days takes in."""
    return [kind.name, GESTURE_DELTAS] if kind is GESTURE_DAYS else [kind.name]


async def _build(session: AsyncSession, organization_id: uuid.UUID, kind: Kind,
                 days: list[str] | None) -> int:
    """Build the roll-up of `kind` again for those UTC days (every day when None), every
    grain, from the tables, and delete the changes of those days it takes in; returns how
    many. On PostgreSQL one statement: the changes it deletes are exactly those its snapshot
    of the tables holds (a write that commits meanwhile leaves its change for the next fold).
    SQLite's writers take turns: the statements follow one another."""
    table = kind.table
    dialect = dialect_of(session)
    ranges: list[Range] = [(None, None)] if days is None else day_ranges(days)
    rows = _grains(kind, lambda _grain, dims: kind.partials(
        dialect, organization_id, ranges, dims, kind.measures))
    marks = [RollupChange.organization_id == organization_id,
             RollupChange.rollup.in_(_marks(kind))]
    old = [table.organization_id == organization_id]
    if days is not None:
        marks.append(RollupChange.day.in_(days))
        old.append(table.day.in_(days))
    if dialect != "postgresql":
        deleted = await session.execute(delete(RollupChange).where(*marks))
        await session.execute(delete(table).where(*old))
        await session.execute(_insert(kind, organization_id, rows))
        return int(getattr(deleted, "rowcount", 0) or 0)
    if days is None:
        # A year of a large company is aggregated in memory rather than on disk (the default
        # work_mem is 4 MB), for this transaction only.
        await session.execute(text(f"SET LOCAL work_mem = '{BUILD_WORK_MEM}'"))
    gone = delete(RollupChange).where(*marks).returning(RollupChange.id).cte("gone")
    cleared = delete(table).where(*old).returning(table.id).cte("cleared")
    built = _insert(kind, organization_id, rows).returning(table.id).cte("built")
    counted: Select[Any] = select(func.count()).select_from(gone).add_cte(cleared, built)
    return int(await session.scalar(counted) or 0)


async def _take_in_deltas(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Add the gestures' deltas to the roll-up (as rows of their own: a sum does not care)
    and delete them; returns how many. On PostgreSQL one statement, so exactly the deltas
    it adds are deleted."""
    kind = GESTURE_DAYS
    mine = [RollupChange.organization_id == organization_id,
            RollupChange.rollup == GESTURE_DELTAS]
    if dialect_of(session) != "postgresql":
        pending = select(RollupChange).where(*mine).subquery()
        await session.execute(_insert(kind, organization_id, _grains(
            kind, lambda _grain, dims: _deltas(pending, organization_id, dims,
                                              kind.measures))))
        deleted = await session.execute(delete(RollupChange).where(*mine))
        return int(getattr(deleted, "rowcount", 0) or 0)
    taken = delete(RollupChange).where(*mine).returning(*RollupChange.__table__.c).cte("taken")
    moved = _insert(kind, organization_id, _grains(
        kind, lambda _grain, dims: _deltas(taken, organization_id, dims, kind.measures))
    ).returning(GestureDay.id).cte("moved")
    counted: Select[Any] = select(func.count()).select_from(taken).add_cte(moved)
    return int(await session.scalar(counted) or 0)


async def fold(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Take the organisation's changes into its roll-ups (see the module's docstring): build
    the changed days again, then add the gestures' deltas; returns how many changes."""
    await _take_turn(session, organization_id)
    folded = 0
    for kind in KINDS.values():
        days = await stale_days(session, organization_id, kind.name)
        if days:
            folded += await _build(session, organization_id, kind, days)
    return folded + await _take_in_deltas(session, organization_id)


async def rebuild(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Build every day of the organisation's roll-ups again from the tables: the repair that
    makes them right whatever happened to them."""
    await _take_turn(session, organization_id)
    for kind in KINDS.values():
        await _build(session, organization_id, kind, None)
