"""Daily roll-ups of gestures, redemptions and cases: what the reports read at a large
company's size (a year of 3,000,000 gestures is a few tens of thousands of roll-up rows).

Each roll-up (`GestureDay`, `RedemptionDay`, `CaseDay`) holds partial sums per UTC day and
per *grain*: a set of dimensions its rows keep, the others being null. Gestures are kept by
reason, channel and currency, and by giver (label and member of staff: their team and store
are read from `users` when the report runs, so a move between teams counts as it does in the
tables); redemptions by the same two and by store and person at the till; cases by reason,
channel and root cause. Partial sums add up: a report sums them per its own key.

A report asks `source()` for the partial sums of a period by some dimensions, and gets rows
from two places, in one statement:

- the roll-up, for the whole UTC days of the period that no write has changed since they were
  built, when one of its grains keeps the dimensions asked for;
- the tables themselves for the rest: the partial days at the edges of a period that does not
  start and end at midnight UTC, the days a write changed since (`rollups.changes`), and any
  period by dimensions no grain keeps (a reason and an agent at once, say). They are summed by
  `Kind.partials`, the very statement that builds the roll-up.

So a figure is the same whichever way each of its days is read, and a gesture given a second
ago is in the next report. `fold` keeps the roll-ups close to the tables (every ten seconds,
`rollups.tasks`, so that few days are read from the tables): it deletes an organisation's
change rows and builds the days they name again, in one transaction, after the deletion (a
write that commits in between leaves its own row behind and its day is built again next
time). `rebuild` builds every day (the hourly repair, `outcomes.refresh`). An organisation's
folds and rebuilds take turns on its `RollupRun` row; writers never wait for them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    Subquery,
    Uuid,
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
from amends.models import CaseDay, GestureDay, RedemptionDay, RollupChange, RollupRun
from amends.rollups import partials
from amends.rollups.changes import CASES, GESTURES, REDEMPTIONS
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
    rolled = select(table.day.label("day"), *(getattr(table, d).label(d) for d in keep),
                    *(getattr(table, m).label(m) for m in sums)).where(
        table.organization_id == organization_id, table.grain == grain)
    if first is not None:
        rolled = rolled.where(table.day >= first.isoformat())
    if last is not None:
        rolled = rolled.where(table.day < last.isoformat())
    if stale:
        rolled = rolled.where(table.day.not_in(stale))
    if not raw:
        return rolled.subquery()
    # The tables' rows by the dimensions wanted only (fewer joins), the grain's others null:
    # a report groups by what it wanted, and a day is read from one place or the other.
    summed = kind.partials(dialect, organization_id, raw, need, sums).subquery()
    return union_all(rolled, select(
        summed.c.day, *(summed.c[d] if d in need else null().label(d) for d in keep),
        *(summed.c[m] for m in sums))).subquery()


# --- Building --------------------------------------------------------------------------------

async def _take_turn(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Wait for the organisation's other fold or rebuild to commit: two at once would each
    delete a day and insert it again, and neither delete sees the other's rows."""
    await get_or_insert(session, RollupRun, key={"organization_id": organization_id},
                        values={"refreshed_at": utcnow(), "seconds": 0.0}, lock=True)


async def build(session: AsyncSession, organization_id: uuid.UUID, kind: Kind,
                days: list[str] | None) -> None:
    """Build the roll-up of `kind` again for those UTC days (every day when None), every
    grain, from the tables: one statement per grain, which reads a few days through the
    indexes and many in one pass. The caller holds the organisation's turn."""
    table = kind.table
    dialect = dialect_of(session)
    if days is None:
        await session.execute(delete(table).where(table.organization_id == organization_id))
        ranges: list[Range] = [(None, None)]
        if dialect == "postgresql":
            # A year of a large company is aggregated in memory rather than on disk (the
            # default work_mem is 4 MB), for this transaction only.
            await session.execute(text(f"SET LOCAL work_mem = '{BUILD_WORK_MEM}'"))
    else:
        for at in range(0, len(days), 500):
            await session.execute(delete(table).where(
                table.organization_id == organization_id,
                table.day.in_(days[at:at + 500])))
        ranges = day_ranges(days)
    for grain, dims in kind.grains.items():
        rows = kind.partials(dialect, organization_id, ranges, dims, kind.measures).subquery()
        after = int(await session.scalar(
            select(func.coalesce(func.max(table.id), 0))
            .where(table.organization_id == organization_id)) or 0)
        columns = ["day", *dims, *kind.measures]
        await session.execute(insert(table).from_select(
            ["id", "organization_id", "grain", *columns],
            select(func.row_number().over() + after, literal(organization_id, Uuid),
                   literal(grain), *(rows.c[c] for c in columns))))


async def fold(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """Build again the days of the organisation's roll-ups that writes changed, and forget
    the changes (see the module's docstring); returns how many change rows were folded."""
    await _take_turn(session, organization_id)
    changed = (await session.execute(
        delete(RollupChange).where(RollupChange.organization_id == organization_id)
        .returning(RollupChange.rollup, RollupChange.day))).all()
    days: dict[str, set[str]] = defaultdict(set)
    for rollup, day in changed:
        days[rollup].add(day)
    for name, changed_days in sorted(days.items()):
        await build(session, organization_id, KINDS[name], sorted(changed_days))
    return len(changed)


async def rebuild(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Build every day of the organisation's roll-ups again from the tables: the repair that
    makes them right whatever happened to them."""
    await _take_turn(session, organization_id)
    await session.execute(delete(RollupChange).where(
        RollupChange.organization_id == organization_id))
    for kind in KINDS.values():
        await build(session, organization_id, kind, None)
