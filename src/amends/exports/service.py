"""Row-level exports for finance: every gesture given and every redemption made in a period,
as CSV (UTF-8, a header row, one line per row), streamed from the database in constant memory.

The file is defined once, in SQL: each column is an expression that renders its cell
(`cells.py`: times in ISO 8601 UTC, money in major units of its ISO 4217 currency, text that a
spreadsheet could read as a formula behind an apostrophe, as `kit.csvstream.safe_cell` does).
So the rows need no work in Python, and each dialect reads them its fastest way.

Rows come oldest first: by the time the gesture was given (the redemption made), then by id.
They are read in keyset batches, each a range of that key that an index on (organisation,
time) finds, joining only its own rows, so the first rows leave at once however long the
period (one statement over a year would sort and hash its joins for seconds first):

- PostgreSQL writes the CSV itself, a `COPY (SELECT ...) TO STDOUT` per batch in one read-only
  snapshot, and asyncpg hands it over in chunks; while the client is slow to take one, asyncpg
  stops reading the socket and the server waits (backpressure all the way), so a million rows
  take the memory of a few chunks.
- SQLite's batches are each read in a short read transaction of its own and written by the
  `csv` module.

Every statement names the organisation first (the distribution key on Citus) and joins on it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Select,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy import null as sql_null
from sqlalchemy.orm import aliased
from sqlalchemy.util import greenlet_spawn

from amends.actor import Actor
from amends.db import Database
from amends.errors import ValidationFailed
from amends.exports.cells import Cells
from amends.kit.clock import utcnow
from amends.models import Case, Coupon, Redemption, User
from amends.roles import Scope

T = TypeVar("T")
# The longest period one export covers: a year, leap or not, counted in the reader's days.
MAX_DAYS = 366
_EARLIEST, _LATEST = date(1970, 1, 1), date(2199, 12, 31)
# Rows per SQLite batch; rows of PostgreSQL's first COPY and of each one after; the size
# PostgreSQL's chunks are gathered to before they are sent.
BATCH_ROWS = 2000
FIRST_COPY_ROWS = 2000
COPY_ROWS = 50_000
CHUNK_BYTES = 64 * 1024
_QUEUED_CHUNKS = 4
WORK_MEM = "64MB"


class InvalidDate(ValidationFailed):
    code, title = "invalid_date", "Not a date"


class PeriodReversed(ValidationFailed):
    code, title = "period_reversed", "The period ends before it starts"


class PeriodTooLong(ValidationFailed):
    code, title = "period_too_long", f"A period is at most {MAX_DAYS} days"


@dataclass(frozen=True, slots=True)
class Period:
    """From `start` (included) to `end` (excluded), and the days it covers in the reader's
    zone (for the file's name)."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date


def period(first: str | None, last: str | None, *, zone: tzinfo = UTC) -> Period:
    """The period of `from` and `to` as typed. A date stands for a whole day of `zone`, so
    `from=2027-01-01&to=2027-01-31` is all of January; a date and time is an instant (without
    an offset, in `zone`), included as `from` and excluded as `to`."""
    start = _bound(first, "from", zone, end=False)
    end = _bound(last, "to", zone, end=True)
    if end <= start:
        raise PeriodReversed(f"The period must end after it starts: `to` ({last}) is not after "
                             f"`from` ({first}).", field="to")
    # Wall-clock days in the zone, so a year that crosses a change of summer time still fits.
    local_start = start.astimezone(zone).replace(tzinfo=None)
    local_end = end.astimezone(zone).replace(tzinfo=None)
    if local_end - local_start > timedelta(days=MAX_DAYS):
        raise PeriodTooLong(f"The period from {first} to {last} is longer than {MAX_DAYS} days: "
                            "export it in parts.", field="to", max_days=MAX_DAYS)
    return Period(start=start.astimezone(UTC), end=end.astimezone(UTC),
                  first_day=local_start.date(),
                  last_day=(local_end - timedelta(microseconds=1)).date())


def _bound(text: str | None, name: str, zone: tzinfo, *, end: bool) -> datetime:
    example = "a date (2027-01-31) or a date and time (2027-01-31T18:00:00Z)"
    value = (text or "").strip()
    if not value:
        raise InvalidDate(f"`{name}` is required: {example}.", field=name)
    try:
        if "T" in value.upper() or " " in value or ":" in value:
            moment = datetime.fromisoformat(value)
            day = moment.date()
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
        else:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time.min,
                                      tzinfo=zone)
    except (ValueError, OverflowError):
        hint = " (write a + in an offset as %2B)" if " " in value else ""
        raise InvalidDate(f"`{name}` is not {example}: {value[:40]!r}{hint}.",
                          field=name) from None
    if not _EARLIEST <= day <= _LATEST:
        raise InvalidDate(f"`{name}` must be between {_EARLIEST} and {_LATEST}.", field=name)
    return moment


# --- The two files ------------------------------------------------------------------------

GESTURE_COLUMNS = (
    "issued_at", "coupon_id", "code", "gesture", "kind", "currency", "face_value", "cost",
    "status", "expires_at", "redemptions", "redeemed_at", "order_id", "store", "channel",
    "agent", "reason", "case_reference", "customer_id")
REDEMPTION_COLUMNS = (
    "redeemed_at", "redemption_id", "coupon_id", "code", "gesture", "currency", "amount",
    "order_id", "order_amount", "channel", "store", "till", "redeemed_by", "status",
    "voided_at", "void_reason", "customer_id", "case_reference")


# Where a keyset batch of an export starts or ends: a row's time and id.
Key = tuple[datetime, uuid.UUID]


@dataclass(frozen=True, slots=True)
class Query:
    """What one statement of an export reads: the caller's organisation and period, whether
    codes are shown, the time that decides expiry and the batch, the rows after the key
    `after` up to the key `through` (both None: the whole period)."""

    organization_id: uuid.UUID
    period: Period
    shows_codes: bool
    now: datetime
    after: Key | None = None
    through: Key | None = None


def _batch(moment: Any, key: Any, query: Query) -> list[ColumnElement[bool]]:
    """The period and the batch's keyset bounds, written so that an index on (organisation,
    moment) finds them: (moment, id) > after and (moment, id) <= through."""
    bounds: list[ColumnElement[bool]] = [moment >= query.period.start,
                                         moment < query.period.end]
    if query.after is not None:
        at, after = query.after
        bounds += [moment >= at, or_(moment > at, key > after)]
    if query.through is not None:
        at, through = query.through
        bounds += [moment <= at, or_(moment < at, key <= through)]
    return bounds


def gestures(cells: Cells, query: Query) -> Select[Any]:
    """Every gesture given in the batch (revoked ones too), with what it has cost so far (the
    discounts of its completed redemptions) and its last completed redemption."""
    org = query.organization_id
    # `coupons.policy.display_status` in SQL: a hold that has timed out is active again, and
    # an active gesture past its expiry is expired.
    now = query.now
    held = and_(Coupon.status == "reserved", Coupon.reserved_until.is_not(None),
                Coupon.reserved_until > now)
    status = case((and_(Coupon.status.in_(("active", "reserved")), Coupon.expires_at <= now),
                   "expired"), (Coupon.status == "reserved", case((held, "reserved"),
                                                                  else_="active")),
                  else_=Coupon.status)
    own = {
        "issued_at": cells.moment(Coupon.issued_at), "coupon_id": cells.uuid(Coupon.id),
        "code": cells.code(Coupon.code) if query.shows_codes else sql_null(),
        "gesture": cells.text(Coupon.name), "kind": Coupon.kind, "currency": Coupon.currency,
        "face_value": cells.money(Coupon.face_value, Coupon.currency), "status": status,
        "expires_at": cells.moment(Coupon.expires_at), "channel": Coupon.channel,
        "agent": cells.text(Coupon.issued_by_label),
        # Reason keys ([a-z0-9_]) and case references (C-...) cannot start a formula.
        "reason": Case.reason, "case_reference": cells.empty_as_none(Coupon.case_ref),
        "customer_id": cells.text(Coupon.customer_external_id)}
    mine = (
        select(*(value.label(name) for name, value in own.items()),
               Coupon.organization_id.label("_org"), Coupon.id.label("_id"),
               Coupon.issued_at.label("_at"))
        .select_from(Coupon)
        .outerjoin(Case, and_(Case.organization_id == Coupon.organization_id,
                              Case.reference == Coupon.case_ref))
        .where(Coupon.organization_id == org, *_batch(Coupon.issued_at, Coupon.id, query))
        .subquery())
    # The redemptions of the batch's own gestures.
    ours = aliased(Coupon)
    spent = (
        select(Redemption.organization_id, Redemption.coupon_id, Redemption.created_at,
               Redemption.order_id, Redemption.store_id,
               # PostgreSQL sums a bigint as a numeric: back to whole minor units.
               cast(func.sum(Redemption.discount).over(partition_by=Redemption.coupon_id),
                    BigInteger).label("cost"),
               func.count().over(partition_by=Redemption.coupon_id).label("uses"),
               func.row_number().over(partition_by=Redemption.coupon_id, order_by=(
                   Redemption.created_at.desc(), Redemption.id.desc())).label("nth"))
        .where(Redemption.organization_id == org, Redemption.status == "completed",
               Redemption.coupon_id.in_(select(ours.id).where(
                   ours.organization_id == org, *_batch(ours.issued_at, ours.id, query))))
        .subquery())
    last = {
        "cost": cells.money(func.coalesce(spent.c.cost, 0), mine.c.currency),
        "redemptions": func.coalesce(spent.c.uses, 0),
        "redeemed_at": cells.moment(spent.c.created_at),
        "order_id": cells.text(spent.c.order_id), "store": cells.text(spent.c.store_id)}
    return (
        select(*(mine.c[name] if name in own else last[name].label(name)
                 for name in GESTURE_COLUMNS))
        .select_from(mine)
        .outerjoin(spent, and_(spent.c.organization_id == mine.c._org,
                               spent.c.coupon_id == mine.c._id, spent.c.nth == 1))
        .order_by(mine.c._at, mine.c._id))


def redemptions(cells: Cells, query: Query) -> Select[Any]:
    """Every redemption made in the batch, voided ones too, with its gesture and the person
    at the till (a member of staff; none for a till's API key or a shop)."""
    at_till = aliased(User)
    columns = [
        cells.moment(Redemption.created_at), cells.uuid(Redemption.id),
        cells.uuid(Redemption.coupon_id),
        cells.code(Coupon.code) if query.shows_codes else sql_null(),
        cells.text(Coupon.name), Redemption.currency,
        cells.money(Redemption.discount, Redemption.currency), cells.text(Redemption.order_id),
        cells.money(Redemption.order_amount, Redemption.currency), Redemption.channel,
        cells.text(Redemption.store_id), cells.text(Redemption.till_id),
        cells.text(at_till.name), Redemption.status, cells.moment(Redemption.voided_at),
        cells.text(Redemption.void_reason), cells.text(Coupon.customer_external_id),
        cells.empty_as_none(Coupon.case_ref)]
    return (
        select(*(c.label(n) for c, n in zip(columns, REDEMPTION_COLUMNS, strict=True)))
        .select_from(Redemption)
        .join(Coupon, and_(Coupon.organization_id == Redemption.organization_id,
                           Coupon.id == Redemption.coupon_id))
        .outerjoin(at_till, and_(at_till.organization_id == Redemption.organization_id,
                                 at_till.id == Redemption.actor_id))
        .where(Redemption.organization_id == query.organization_id,
               *_batch(Redemption.created_at, Redemption.id, query))
        .order_by(Redemption.created_at, Redemption.id))


def _keys(moment: Any, key: Any, owner: Any) -> Callable[[Query, int], Select[Any]]:
    def nth(query: Query, rows: int) -> Select[Any]:
        """The key of the `rows`th row after the batch's start (none: fewer rows are left)."""
        return (select(moment, key).where(owner == query.organization_id,
                                          *_batch(moment, key, query))
                .order_by(moment, key).offset(rows - 1).limit(1))
    return nth


@dataclass(frozen=True, slots=True)
class Export:
    name: str
    columns: tuple[str, ...]
    statement: Callable[[Cells, Query], Select[Any]]
    # The key that ends a batch of so many rows.
    batch_end: Callable[[Query, int], Select[Any]]


GESTURES = Export("gestures", GESTURE_COLUMNS, gestures,
                  _keys(Coupon.issued_at, Coupon.id, Coupon.organization_id))
REDEMPTIONS = Export("redemptions", REDEMPTION_COLUMNS, redemptions,
                     _keys(Redemption.created_at, Redemption.id, Redemption.organization_id))


def shows_codes(actor: Actor) -> bool:
    """Codes are money: a caller who may only read reports gets the file without them (as an
    incident's report), one who may read or give coupons gets them."""
    return actor.can(Scope.COUPONS_READ) or actor.can(Scope.COUPONS_ISSUE)


async def csv_chunks(db: Database, actor: Actor, export: Export, period: Period
                     ) -> AsyncIterator[bytes]:
    """The export's CSV, header first, in chunks as the database gives them."""
    query = Query(organization_id=actor.organization_id, period=period,
                  shows_codes=shows_codes(actor), now=utcnow())
    cells = Cells(db.dialect)
    if cells.postgres:
        async for chunk in _copied(db, export, cells, query):
            yield chunk
        return
    header = True
    after: Key | None = None
    while True:
        rows, through = await _detached(_read(db, export, cells, replace(query, after=after)))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if header:
            writer.writerow(export.columns)
            header = False
        writer.writerows(rows)
        yield out.getvalue().encode()
        if through is None:
            return
        after = through


def _key(row: Any) -> Key | None:
    return None if row is None else (row[0], uuid.UUID(str(row[1])))


async def _copied(db: Database, export: Export, cells: Cells, query: Query
                  ) -> AsyncIterator[bytes]:
    """The export as `COPY (statement) TO STDOUT` CSV, batch by batch in one read-only
    snapshot, in chunks of about CHUNK_BYTES.

    Each batch is a range of the file's key, found first (`Export.batch_end`), so that every
    COPY reads an index range and joins only its own rows: the first rows leave while the
    next batches are still to be read, whatever the period (one COPY of a year would sort and
    hash its joins for seconds before its first row). asyncpg calls the sink with each buffer
    it reads and reads no more until the sink returns; the sink waits while `_QUEUED_CHUNKS`
    buffers wait for the client. If the client goes away, the generator is closed: the COPY
    is cancelled and its connection closed rather than returned to the pool mid-statement.
    The statements hold no value from a request: their literals are the organisation's id,
    times, keys read from the database and the constants of the columns."""
    buffers: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_QUEUED_CHUNKS)
    failures: list[Exception] = []
    raw = await db.engine.raw_connection()
    driver: Any = raw.driver_connection
    finished = False

    def sql(statement: Select[Any]) -> str:
        return str(statement.compile(dialect=db.engine.dialect,
                                     compile_kwargs={"literal_binds": True}))

    async def copy() -> None:
        try:
            async with driver.transaction(isolation="repeatable_read", readonly=True):
                await driver.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
                after, rows = None, FIRST_COPY_ROWS
                while True:
                    batch = replace(query, after=after)
                    through = _key(await driver.fetchrow(sql(export.batch_end(batch, rows))))
                    await driver.copy_from_query(
                        sql(export.statement(cells, replace(batch, through=through))),
                        output=buffers.put, format="csv", header=after is None,
                        encoding="utf-8")
                    if through is None:
                        break
                    after, rows = through, COPY_ROWS
        except Exception as error:  # raised by the reader, in the response
            failures.append(error)
        await buffers.put(None)

    task = asyncio.create_task(copy())
    try:
        pending = bytearray()
        while (data := await buffers.get()) is not None:
            pending += data
            if len(pending) >= CHUNK_BYTES:
                yield bytes(pending)
                pending.clear()
        if failures:
            raise failures[0]
        if pending:
            yield bytes(pending)
        finished = True
    finally:
        await _detached(_end(task, raw, finished=finished))


async def _read(db: Database, export: Export, cells: Cells, query: Query
                ) -> tuple[list[Row[Any]], Key | None]:
    """A SQLite batch: its rows and its last key (None: the last batch), in a short read
    transaction of its own."""
    async with db.transaction(write=False) as session:
        through = _key((await session.execute(export.batch_end(query, BATCH_ROWS))).first())
        rows = (await session.execute(export.statement(cells, replace(query, through=through)))
                ).all()
        return list(rows), through


# Tasks that must end whatever happens to their caller (the loop keeps only weak references).
_DETACHED: set[asyncio.Task[Any]] = set()


async def _detached(work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, in a task of its own that runs to its end even if the caller is
    cancelled: a response whose client went away is cancelled, and cancelled again at each
    await (anyio), which would leave a transaction open or a connection out of the pool."""
    task = asyncio.create_task(work)
    _DETACHED.add(task)
    task.add_done_callback(_DETACHED.discard)
    return await asyncio.shield(task)


# How long an interrupted COPY may take to stop before its connection is closed under it.
STOP_SECONDS = 1.0


async def _end(copy: asyncio.Task[None], raw: Any, *, finished: bool) -> None:
    """Stop the COPY and give the connection back: to the pool after a whole file, closed
    after an interrupted one, whose protocol state is not worth trusting. asyncpg asks the
    server to cancel a COPY and reads on until it stops; Citus relays the cancel to its
    workers and may stream on for many seconds, so an interrupted COPY gets `STOP_SECONDS`,
    then its connection is closed, which ends it."""
    copy.cancel()
    await asyncio.wait([copy], timeout=None if finished else STOP_SECONDS)
    with suppress(Exception):
        await greenlet_spawn(raw.close if finished else raw.invalidate)
    await asyncio.wait([copy])
