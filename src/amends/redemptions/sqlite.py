"""SQLite's redemption of a single-use coupon: the rows PostgreSQL's one statement writes
(`fastpath`), as a few plain statements in one write transaction.

SQLite has no data-modifying CTEs, so the redeem is a sequence: the conditional UPDATE of the
coupon (RETURNING what the records need, the discount computed in SQL by the same expression
as PostgreSQL's), the redemption, the audit event, the roll-ups' changes and, when they apply,
the webhook deliveries of the endpoints that want `coupon.redeemed`, and the jobs of the
deliveries, of the wallet pass and of each active shop.

The sequence is written once (`steps`, a generator that yields each statement and is sent its
rows) and run two ways:

- `run_async` on the request's session connection (the service's `redeem`, inside the
  transaction that already holds the write lock);
- `Writer`, the tills' direct answer: one connection of its own, on a thread of its own,
  that takes every redeem waiting when the write lock comes free and runs them all in one
  transaction, each behind a savepoint (a group commit: one fsync for the group). The writer
  takes the process's write turn (`db.sqlite_write_turn`) like every other writer, so it
  never meets the busy handler inside the process.

Values are stored as SQLAlchemy stores them on SQLite (`storage`): UUIDs as 32 hex digits,
times as naive UTC text with microseconds, JSON as text.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from amends.coupons import policy
from amends.jobs.service import job_values
from amends.kit.ids import new_id
from amends.redemptions import fastpath
from amends.rollups.changes import DELTA_MEASURES, change_rows, delta_row

Rows = Sequence[Sequence[Any]]
Step = tuple[str, Mapping[str, Any]]
Steps = Generator[Step, Rows, dict[str, Any] | None]

_TAKEN_OFF = f"""
CASE WHEN :given IS NULL THEN {fastpath.discount_sql("coupons", least="MIN")}
     ELSE MAX(0, MIN(:given, :order_amount)) END"""

_CLAIM = f"""
UPDATE coupons
SET status = 'redeemed', redeemed_at = :now, redemption_count = redemption_count + 1,
    reservation_id = NULL, reserved_until = NULL
WHERE organization_id = :organization_id AND code IN (:code, :other_code)
  AND kind IN ({", ".join(f"'{kind}'" for kind in policy.SINGLE_USE_KINDS)})
  AND (status = 'active' OR (status = 'reserved' AND reserved_until <= :now))
  AND valid_from <= :now AND expires_at > :now
  AND (NOT bound_to_customer OR customer_external_id = :customer_external_id)
  AND (min_order IS NULL OR min_order <= :order_amount)
  AND (:currency IS NULL OR currency = :currency)
  AND {_TAKEN_OFF} > 0
RETURNING id, currency, code, customer_external_id, case_ref, issued_at, issued_by_label,
          issued_by_id, channel, redemption_count, {_TAKEN_OFF}"""

_REDEMPTION = """
INSERT INTO redemptions (id, organization_id, coupon_id, order_id, order_amount, discount,
                         currency, channel, store_id, till_id, status, actor_id, created_at)
VALUES (:redemption_id, :organization_id, :coupon_id, :order_id, :order_amount, :discount,
        :currency, :channel, :store_id, :till_id, 'completed', :actor_id, :now)"""

_AUDIT = f"""
INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action,
                          object_type, object_id, after, request_id, created_at)
VALUES (:audit_id, :organization_id, :actor_kind, :actor_id, :actor_label, '{fastpath.EVENT}',
        'coupon', :object_id, :after, :request_id, :now)"""

_CHANGE_COLUMNS = ("id", "organization_id", "rollup", "day", "case_ref", "agent", "issuer_id",
                   "channel", "currency", *DELTA_MEASURES)
# The redemption's roll-up changes: its gesture's delta and its day, rows 0 and 1 of
# `changes.delta_row` and `changes.change_rows`.
_CHANGES = (f"INSERT INTO rollup_changes ({', '.join(_CHANGE_COLUMNS)}) VALUES "
            + ", ".join("(" + ", ".join(f":{column}_{n}" for column in _CHANGE_COLUMNS) + ")"
                        for n in range(2)))

# The endpoints that take the event (every event when they name none), as `webhooks.emit`
# picks them.
_ENDPOINTS = f"""
SELECT id FROM webhook_endpoints
WHERE organization_id = :organization_id AND active
  AND (json_array_length(event_types) = 0
       OR EXISTS (SELECT 1 FROM json_each(event_types) WHERE value = '{fastpath.EVENT}'))"""

_DELIVERY = f"""
INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type,
                                payload, status, attempts, created_at)
VALUES (:id, :organization_id, :endpoint_id, :event_id, '{fastpath.EVENT}', :payload,
        'pending', 0, :now)"""

_JOB = """
INSERT INTO jobs (id, organization_id, kind, payload, status, priority, attempts,
                  max_attempts, run_at, created_at)
VALUES (:id, :organization_id, :kind, :payload, 'queued', :priority, 0, :max_attempts,
        :now, :now)"""


def storage(value: Any) -> Any:
    """`value` as SQLAlchemy stores it on SQLite."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ",
                                                                    timespec="microseconds")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _stored(values: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: storage(values[name]) for name in names}


def _read_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def steps(values: Mapping[str, Any], outbox: fastpath.Outbox) -> Steps:
    """The redeem of the order in `values` (`fastpath.arguments`), one statement at a time:
    the redemption's row (`id`, `coupon_id`, `discount`, `currency`, `jobs`, with the coupon's
    `code`, `customer_external_id`, `case_ref` and `uses`, its redemption count now), or None
    when no coupon matched."""
    claimed = yield _CLAIM, {
        **_stored(values, "now", "organization_id", "code", "other_code",
                  "customer_external_id", "order_amount", "currency", "given")}
    if not claimed:
        return None
    (coupon_id, currency, code, customer_external_id, case_ref, issued_at, agent, issuer_id,
     channel, uses, discount) = claimed[0]
    coupon = uuid.UUID(hex=coupon_id)
    now: datetime = values["now"]
    common = _stored(values, "organization_id", "now")
    yield _REDEMPTION, {
        **common, **_stored(values, "redemption_id", "order_id", "order_amount", "channel",
                            "store_id", "till_id", "actor_id"),
        "coupon_id": coupon_id, "discount": discount, "currency": currency}
    after = {"code": code, "order_id": values["order_id"],
             "order_amount": values["order_amount"], "discount": discount,
             "channel": values["channel"], "store_id": values["store_id"]}
    yield _AUDIT, {
        **common, **_stored(values, "audit_id", "actor_kind", "actor_id", "actor_label",
                            "request_id"),
        "object_id": str(coupon), "after": json.dumps(after)}
    gesture = SimpleNamespace(organization_id=values["organization_id"],
                              issued_at=_read_time(issued_at), case_ref=case_ref,
                              issued_by_label=agent, issued_by_id=issuer_id, channel=channel,
                              currency=currency)
    rows = (delta_row(gesture, redeemed=1 if uses == 1 else 0, redeemed_value=discount),
            *change_rows(values["organization_id"], redemptions=[now]))
    yield _CHANGES, {f"{column}_{n}": storage(row.get(column))
                     for n, row in enumerate(rows) for column in _CHANGE_COLUMNS}
    redemption_id: uuid.UUID = values["redemption_id"]
    jobs: list[tuple[str, dict[str, Any]]] = []
    if outbox.webhooks:
        payload = {"type": fastpath.EVENT, "timestamp": now.isoformat(), "data": {
            "redemption_id": str(redemption_id), "coupon_id": str(coupon),
            "customer_id": customer_external_id, "case_reference": case_ref or None, **after}}
        for (endpoint_id,) in (yield _ENDPOINTS, common):
            delivery = new_id()
            yield _DELIVERY, {**common, "id": delivery.hex, "endpoint_id": endpoint_id,
                              "event_id": f"msg_{uuid.uuid4().hex}",
                              "payload": json.dumps(payload)}
            jobs.append((fastpath.WEBHOOK_DELIVER, {"delivery_id": str(delivery)}))
    if outbox.wallet:
        jobs.append((fastpath.PASS_CHANGED, {"coupon_id": str(coupon)}))
    jobs.extend((fastpath.SHOP_SYNC, {"connection_id": str(shop), "coupon_id": str(coupon)})
                for shop in outbox.shops)
    for kind, job_payload in jobs:
        queued = job_values(kind)
        yield _JOB, {**common, "id": new_id().hex, "kind": kind,
                     "payload": json.dumps(job_payload), "priority": queued["priority"],
                     "max_attempts": queued["max_attempts"]}
    return {"id": redemption_id, "coupon_id": coupon, "discount": discount,
            "currency": currency, "jobs": len(jobs), "code": code,
            "customer_external_id": customer_external_id, "case_ref": case_ref, "uses": uses}


def run_sync(connection: sqlite3.Connection, redeem: Steps) -> dict[str, Any] | None:
    """Run `redeem`'s statements on a DB-API connection (in its transaction)."""
    try:
        sql, params = next(redeem)
        while True:
            sql, params = redeem.send(connection.execute(sql, params).fetchall())
    except StopIteration as done:
        result: dict[str, Any] | None = done.value
        return result


async def run_async(connection: AsyncConnection, redeem: Steps) -> dict[str, Any] | None:
    """Run `redeem`'s statements on the session's connection (in its transaction)."""
    try:
        sql, params = next(redeem)
        while True:
            result = await connection.exec_driver_sql(sql, dict(params))
            sql, params = redeem.send(result.fetchall() if result.returns_rows else [])
    except StopIteration as done:
        row: dict[str, Any] | None = done.value
        return row


# How many redeems one transaction of the writer takes at most.
GROUP = 64


class Writer:
    """The tills' redeems on SQLite, committed in groups by one connection on one thread.

    `redeem` queues the order and waits. While no group is being written, the first waiter
    starts one: it takes the process's write turn, then every order waiting (up to `GROUP`),
    and runs them in one transaction on the writer's thread, each behind a savepoint (a
    failure undoes only its own statements). Each waiter gets its row, None when no coupon
    matched, or the exception its statements raised. One fsync per group instead of one per
    redeem; the requests that arrive meanwhile form the next group."""

    def __init__(self, path: str, *, synchronous: str, busy_timeout_ms: int,
                 write_turn: asyncio.Lock) -> None:
        self._path = path
        self._pragmas = ("journal_mode=WAL", "foreign_keys=ON", f"synchronous={synchronous}",
                         f"busy_timeout={int(busy_timeout_ms)}")
        self._timeout = busy_timeout_ms / 1000
        self._write_turn = write_turn
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="amends-sqlite-writer")
        self._connection: sqlite3.Connection | None = None
        self._waiting: list[tuple[Mapping[str, Any], fastpath.Outbox, asyncio.Future[Any]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def redeem(self, values: Mapping[str, Any], outbox: fastpath.Outbox
                     ) -> dict[str, Any] | None:
        """Redeem in the next group: the row, or None when no coupon matched."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((values, outbox, done))
        if self._writing is None:
            self._writing = loop.create_task(self._write())
        result = await done
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        group: list[tuple[Mapping[str, Any], fastpath.Outbox, asyncio.Future[Any]]] = []
        try:
            while self._waiting:
                await asyncio.wait_for(self._write_turn.acquire(), self._timeout)
                try:
                    group = self._waiting[:GROUP]
                    del self._waiting[:GROUP]
                    try:
                        results = await loop.run_in_executor(
                            self._thread, self._commit, [(v, o) for v, o, _ in group])
                    except Exception as exc:  # the group did not commit: none of it holds
                        results = [exc] * len(group)
                finally:
                    self._write_turn.release()
                for (_, _, done), result in zip(group, results, strict=True):
                    if not done.done():
                        done.set_result(result)
                group = []
        except BaseException as exc:
            # The turn never came, or the writer was cancelled mid-group (the process is
            # stopping): every waiter hears it, and the route's standard handler answers.
            for _, _, done in (*group, *self._waiting):
                if not done.done():
                    done.set_result(exc if isinstance(exc, Exception) else
                                    RuntimeError("the SQLite writer stopped"))
            self._waiting.clear()
            if not isinstance(exc, Exception):
                raise
        finally:
            self._writing = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None,
                                         timeout=self._timeout, check_same_thread=False)
            for pragma in self._pragmas:
                connection.execute(f"PRAGMA {pragma}")
            self._connection = connection
        return self._connection

    def _commit(self, group: list[tuple[Mapping[str, Any], fastpath.Outbox]]
                ) -> list[Any]:
        """On the writer's thread: the group in one transaction."""
        connection = self._open()
        connection.execute("BEGIN IMMEDIATE")
        try:
            results: list[Any] = []
            for values, outbox in group:
                connection.execute("SAVEPOINT redeem")
                try:
                    results.append(run_sync(connection, steps(values, outbox)))
                except Exception as exc:
                    connection.execute("ROLLBACK TO redeem")
                    results.append(exc)
                connection.execute("RELEASE redeem")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return results

    async def close(self) -> None:
        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=True)
