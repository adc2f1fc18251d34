"""The redemption of a single-use coupon: one implementation per database.

A till's redeem is the request that must be fastest and must never happen twice.

- **PostgreSQL**: one data-modifying statement on the driver's connection (`statement`): the
  conditional UPDATE of the coupon, the redemption row, the audit event and the days the
  reports' roll-ups must build again (`rollups.changes`), and, when they apply, the webhook
  deliveries of the endpoints that want `coupon.redeemed` with their jobs, the wallet pass's
  job, a job per active shop, and the Idempotency-Key with the response it answers. One
  round trip, atomic: nothing commits half-way. The parts an organisation does not use are
  left out of the statement (known from the caches the service keeps; when the process does
  not know, the part stays in and the SQL decides), so the plain shape costs what it always
  did.
- **Citus**: the same redeem as two statements in one transaction on the organisation's shard,
  the claim and the record with the roll-ups' days (Citus cannot route the INSERT ... SELECT
  from the UPDATE's rows to one shard); the jobs and the idempotency key, which live on the
  coordinator, are written by the service in the same transaction.
- **SQLite**: the same rows as a few plain statements in one write transaction
  (`redemptions.sqlite`), in the request's transaction or, for the tills, committed in groups
  by one writer.

When the UPDATE matches no row (unknown code, used, expired, a gift card, ...), the caller
falls back to the service, which explains why with a follow-up read. The discount expression
is `coupons.policy.discount` for single-use kinds, in SQL; a test checks that both agree. The
UPDATE uses it too: a coupon is never used up for a discount of 0.
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from pydantic_core import to_json

from amends.actor import Actor
from amends.coupons import policy
from amends.jobs.service import job_values
from amends.kit.context import request_id_var
from amends.kit.ids import new_id
from amends.models import Redemption
from amends.rollups import changes

WEBHOOK_DELIVER = "webhooks.deliver"
PASS_CHANGED = "wallet.pass_changed"
SHOP_SYNC = "shops.sync"
EVENT = "coupon.redeemed"


@dataclass(frozen=True, slots=True)
class Outbox:
    """What a redemption writes besides its own rows, as far as the process knows:
    `webhooks`, some endpoint may want `coupon.redeemed` (the statement picks which);
    `wallet`, the organisation has Apple Wallet passes; `shops`, its active shops."""

    webhooks: bool = False
    wallet: bool = False
    shops: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An Idempotency-Key stored with its response in the redemption's own statement."""

    principal: str
    key: str
    request_hash: str
    expires_at: datetime


def discount_sql(row: str, amount: str = ":order_amount", *, least: str = "LEAST") -> str:
    """The discount of the coupon `row` on an order of `amount` (`least` is SQLite's `MIN`)."""
    return f"""
CASE WHEN {row}.kind = 'percent_off'
     THEN {least}((CAST({amount} AS bigint) * {row}.value + 50) / 100, {amount})
     ELSE {least}({row}.value, {amount}) END
"""


def taken_off_sql(row: str) -> str:
    """What the redeem takes off: the discount the checkout already applied (`:given`, an
    online shop's own discount engine; never more than the order), else the coupon's."""
    return f"""
CASE WHEN :given::bigint IS NULL THEN {discount_sql(row)}
     ELSE GREATEST(0, LEAST(:given::bigint, :order_amount)) END
"""


DISCOUNT_SQL = discount_sql("c")

_CLAIM = f"""
    UPDATE coupons
    SET status = 'redeemed', redeemed_at = :now, redemption_count = redemption_count + 1,
        reservation_id = NULL, reserved_until = NULL
    WHERE organization_id = :organization_id
      AND code IN (:code::varchar, :other_code::varchar)
      AND kind IN ({", ".join(f"'{kind}'" for kind in policy.SINGLE_USE_KINDS)})
      AND (status = 'active' OR (status = 'reserved' AND reserved_until <= :now))
      AND valid_from <= :now AND expires_at > :now
      AND (NOT bound_to_customer OR customer_external_id = :customer_external_id)
      AND (min_order IS NULL OR min_order <= :order_amount)
      AND (:currency::varchar IS NULL OR currency = :currency)
      AND {taken_off_sql("coupons")} > 0
    RETURNING id, kind, value, currency, code, customer_external_id, case_ref, issued_at,
              issued_by_label, issued_by_id, channel, redemption_count"""


def _audit_after(*, code: str, discount: str) -> str:
    """The audit event's `after` (and the webhook's data after its ids), as the service
    records it."""
    return (f"'code', {code}, 'order_id', :order_id::varchar, "
            f"'order_amount', :order_amount, 'discount', {discount}, "
            f"'channel', :channel::varchar, 'store_id', :store_id::varchar")


_REDEMPTION = f"""
r AS (
    INSERT INTO redemptions (id, organization_id, coupon_id, order_id, order_amount, discount,
                             currency, channel, store_id, till_id, status, actor_id, created_at)
    SELECT :redemption_id, :organization_id, c.id, :order_id, :order_amount, {taken_off_sql("c")},
           c.currency, :channel, :store_id, :till_id, 'completed', :actor_id, :now
    FROM c
    RETURNING id, coupon_id, discount, currency
), a AS (
    INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action,
                              object_type, object_id, after, request_id, created_at)
    SELECT :audit_id, :organization_id, :actor_kind, :actor_id, :actor_label, '{EVENT}',
           'coupon', c.id::text,
           json_build_object({_audit_after(code="c.code", discount="r.discount")}),
           :request_id, :now
    FROM c JOIN r ON r.coupon_id = c.id
), m AS (
    {changes.redeemed_sql("c JOIN r ON r.coupon_id = c.id", coupon="c", discount="r.discount",
                          now=":now::timestamptz")}
)"""

# A webhook delivery for every active endpoint of the organisation that takes the event (all
# events when it names none), with the payload `webhooks.emit` writes.
_WEBHOOKS = f"""
, w AS (
    INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type,
                                    payload, status, attempts, created_at)
    SELECT gen_random_uuid(), :organization_id, e.id,
           'msg_' || replace(gen_random_uuid()::text, '-', ''), '{EVENT}',
           json_build_object('type', '{EVENT}', 'timestamp', :event_timestamp::varchar,
                             'data', json_build_object(
               'redemption_id', r.id::text, 'coupon_id', c.id::text,
               'customer_id', c.customer_external_id, 'case_reference', NULLIF(c.case_ref, ''),
               {_audit_after(code="c.code", discount="r.discount")})),
           'pending', 0, :now
    FROM c JOIN r ON r.coupon_id = c.id
    JOIN webhook_endpoints e ON e.organization_id = :organization_id AND e.active
         AND (json_array_length(e.event_types) = 0 OR e.event_types::jsonb ? '{EVENT}')
    RETURNING id
)"""


def _job(kind: str, payload: str, source: str) -> str:
    prefix = kind.replace(".", "_")
    # Typed: the SELECTs of a UNION give their types to the INSERT.
    return (f"SELECT gen_random_uuid(), :organization_id::uuid, '{kind}', {payload}, "
            f"'queued', :{prefix}_priority::smallint, 0, :{prefix}_attempts::integer, "
            f":now::timestamptz, :now::timestamptz FROM {source}")


def _jobs(outbox: Outbox) -> str:
    selects = []
    if outbox.webhooks:
        selects.append(_job(WEBHOOK_DELIVER, "json_build_object('delivery_id', w.id::text)",
                            "w"))
    if outbox.wallet:
        selects.append(_job(PASS_CHANGED, "json_build_object('coupon_id', c.id::text)", "c"))
    if outbox.shops:
        selects.append(_job(SHOP_SYNC, "json_build_object('connection_id', s.id::text, "
                                       "'coupon_id', c.id::text)",
                            "c, unnest(:shops::uuid[]) AS s(id)"))
    if not selects:
        return ""
    return f"""
, j AS (
    INSERT INTO jobs (id, organization_id, kind, payload, status, priority, attempts,
                      max_attempts, run_at, created_at)
    {" UNION ALL ".join(selects)}
    RETURNING id
)"""


# The response, as `RedemptionOut` serialises it, with the four values only the statement
# knows put in between fragments made in Python (see `response_fragments`).
_KEY = """
, k AS (
    INSERT INTO idempotency_keys (id, organization_id, principal, key, request_hash,
                                  response_status, response_body, response_content_type,
                                  created_at, expires_at)
    SELECT :key_id, :organization_id, :principal, :key, :request_hash, 201,
           convert_to(:body_0 || c.id::text || :body_1 || r.discount::text || :body_2
                      || (:order_amount - r.discount)::text || :body_3 || c.currency
                      || :body_4, 'UTF8'),
           'application/json', :now, :expires_at
    FROM c JOIN r ON r.coupon_id = c.id
    RETURNING response_body
)"""

_PARAMETER = re.compile(r"(?<![:\w]):([a-z_0-9]+)")


def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its `:name` parameters as asyncpg's `$n`, and the names in their order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAMETER.sub(number, sql), tuple(names)


def statement(outbox: Outbox | None = None, *, keyed: bool = False
              ) -> tuple[str, tuple[str, ...]]:
    """The PostgreSQL redeem with the parts `outbox` and `keyed` ask for, and its parameters'
    names (the shops' ids are a parameter: every set of shops shares one statement)."""
    outbox = outbox or Outbox()
    return _statement(outbox.webhooks, outbox.wallet, bool(outbox.shops), keyed)


@lru_cache(maxsize=32)
def _statement(webhooks: bool, wallet: bool, shops: bool, keyed: bool
               ) -> tuple[str, tuple[str, ...]]:
    outbox = Outbox(webhooks, wallet, (uuid.UUID(int=0),) if shops else ())
    returned = "r.id, r.coupon_id, r.discount, r.currency"
    if outbox.webhooks or outbox.wallet or outbox.shops:
        returned += ", (SELECT count(*) FROM j) AS jobs"
    if keyed:
        returned += ", (SELECT response_body FROM k) AS body"
    sql = (f"WITH c AS ({_CLAIM}\n), {_REDEMPTION}"
           f"{_WEBHOOKS if outbox.webhooks else ''}{_jobs(outbox)}{_KEY if keyed else ''}\n"
           f"SELECT {returned} FROM r")
    return numbered(sql)


REDEEM_SQL, REDEEM_PARAMS = statement()
CLAIM_SQL, CLAIM_PARAMS = numbered(f"""
WITH c AS ({_CLAIM}
)
SELECT c.id, c.currency, c.code, c.customer_external_id, c.case_ref, c.issued_at,
       c.issued_by_label, c.issued_by_id, c.channel, c.redemption_count,
       {taken_off_sql("c")} AS discount
FROM c
""")
RECORD_SQL, RECORD_PARAMS = numbered(f"""
WITH r AS (
    INSERT INTO redemptions (id, organization_id, coupon_id, order_id, order_amount, discount,
                             currency, channel, store_id, till_id, status, actor_id, created_at)
    VALUES (:redemption_id, :organization_id, :coupon_id::uuid, :order_id, :order_amount,
            :discount, :coupon_currency, :channel, :store_id, :till_id, 'completed', :actor_id,
            :now)
), m AS (
    {changes.redeemed_values_sql(
        issued_at=":coupon_issued_at::timestamptz", case_ref=":coupon_case_ref::varchar",
        agent=":coupon_agent::varchar", issuer_id=":coupon_issuer_id::uuid",
        channel=":coupon_channel::varchar", currency=":coupon_currency::varchar",
        uses=":coupon_uses::integer", discount=":discount::bigint", now=":now::timestamptz")}
)
INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action,
                          object_type, object_id, after, request_id, created_at)
VALUES (:audit_id, :organization_id, :actor_kind, :actor_id, :actor_label, '{EVENT}', 'coupon',
        :coupon_id::uuid::text,
        json_build_object({_audit_after(code=":coupon_code::varchar",
                                        discount=":discount::bigint")}),
        :request_id, :now)
""")


def _job_settings(kind: str) -> dict[str, int]:
    """The priority and attempts a job of `kind` is queued with (as `jobs.enqueue` does)."""
    queued = job_values(kind)
    prefix = kind.replace(".", "_")
    return {f"{prefix}_priority": queued["priority"],
            f"{prefix}_attempts": queued["max_attempts"]}


def response_fragments(values: Mapping[str, Any]) -> list[str]:
    """The JSON of `RedemptionOut` for this redeem, cut where the coupon's id, the discount,
    the amount due and the currency go (only the statement knows them): the same bytes
    `RedemptionOut.model_dump_json` gives once they are filled in."""
    def field(name: str, value: Any) -> str:
        return f'"{name}":' + to_json(value).decode()

    def fields(*pairs: tuple[str, Any]) -> str:
        return ",".join(field(name, value) for name, value in pairs)

    return [
        "{" + field("id", values["redemption_id"]) + ',"coupon_id":"',
        '",' + fields(("reservation_id", None), ("order_id", values["order_id"]),
                      ("order_amount", values["order_amount"])) + ',"discount":',
        ',"amount_due":',
        ',"currency":"',
        '",' + fields(("channel", values["channel"]), ("store_id", values["store_id"]),
                      ("till_id", values["till_id"]), ("status", "completed"),
                      ("created_at", values["now"]), ("voided_at", None)) + "}",
    ]


def arguments(actor: Actor, *, codes: list[str], now: datetime,
              customer_external_id: str | None, order_id: str, order_amount: int,
              currency: str | None, channel: str, store_id: str | None, till_id: str | None,
              given: int | None = None, outbox: Outbox | None = None,
              record: KeyRecord | None = None
              ) -> dict[str, Any]:
    """The redeem's parameters by name. The statement takes the code's two possible stored
    forms as two scalars (the same one twice when they agree), not an array: with scalars
    PostgreSQL settles on one generic plan for the prepared statement instead of planning
    every call."""
    values: dict[str, Any] = {
        "organization_id": actor.organization_id, "code": codes[0], "now": now,
        "customer_external_id": customer_external_id, "order_id": order_id,
        "order_amount": order_amount, "currency": currency, "redemption_id": new_id(),
        "channel": channel, "store_id": store_id, "till_id": till_id,
        "actor_id": actor.id, "audit_id": new_id(), "other_code": codes[-1],
        "actor_kind": actor.kind, "actor_label": actor.label,
        "request_id": request_id_var.get(), "given": given}
    if outbox is not None:
        if outbox.webhooks:
            values["event_timestamp"] = now.isoformat()
            values |= _job_settings(WEBHOOK_DELIVER)
        if outbox.wallet:
            values |= _job_settings(PASS_CHANGED)
        if outbox.shops:
            values["shops"] = list(outbox.shops)
            values |= _job_settings(SHOP_SYNC)
    if record is not None:
        values |= {"key_id": new_id(), "principal": record.principal, "key": record.key,
                   "request_hash": record.request_hash, "expires_at": record.expires_at}
        values |= {f"body_{n}": part for n, part in enumerate(response_fragments(values))}
    return values


def _values(params: tuple[str, ...], values: Mapping[str, Any]) -> list[Any]:
    return [values[name] for name in params]


_citus: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


async def on_citus(connection: Any) -> bool:
    """Whether the driver `connection`'s database is a Citus coordinator (asked once per
    pooled connection)."""
    known = _citus.get(connection)
    if known is None:
        known = _citus[connection] = bool(await connection.fetchval(
            "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"))
    return known


async def redeem_row(connection: Any, values: dict[str, Any], *, outbox: Outbox | None = None,
                     keyed: bool = False) -> Mapping[str, Any] | None:
    """Redeem in PostgreSQL's one statement on the driver `connection` (asyncpg's): the row
    of the redemption (`id`, `coupon_id`, `discount`, `currency`, with `jobs`, the number of
    jobs written, when the outbox has parts, and `body`, the stored response, when `keyed`),
    or None when no coupon matched."""
    sql, params = statement(outbox, keyed=keyed)
    row: Mapping[str, Any] | None = await connection.fetchrow(sql, *_values(params, values))
    return row


# Citus cancels one of several transactions waiting on one coupon's row now and then as a
# "distributed deadlock" (a false alarm of its detector, citusdata/citus#7477): tried again.
CITUS_ATTEMPTS = 3


async def claim_and_record(connection: Any, values: dict[str, Any]
                           ) -> Mapping[str, Any] | None:
    """Citus's redeem, in the caller's transaction (a savepoint of it) or in one of its own:
    the claim, then the redemption and its audit event. The row of the redemption with the
    coupon's `code`, `customer_external_id` and `case_ref` (for the events the service writes
    after), or None. A deadlock Citus reports rolls back to the savepoint and tries again."""
    for attempt in range(1, CITUS_ATTEMPTS + 1):
        try:
            async with connection.transaction():
                return await _claim_and_record(connection, values)
        except asyncpg.DeadlockDetectedError:
            if attempt == CITUS_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _claim_and_record(connection: Any, values: dict[str, Any]
                            ) -> Mapping[str, Any] | None:
    claimed = await connection.fetchrow(CLAIM_SQL, *_values(CLAIM_PARAMS, values))
    if claimed is None:
        return None
    recorded = {**values, "coupon_id": claimed["id"], "discount": claimed["discount"],
                "coupon_currency": claimed["currency"], "coupon_code": claimed["code"],
                "coupon_issued_at": claimed["issued_at"], "coupon_case_ref": claimed["case_ref"],
                "coupon_agent": claimed["issued_by_label"],
                "coupon_issuer_id": claimed["issued_by_id"],
                "coupon_channel": claimed["channel"], "coupon_uses": claimed["redemption_count"]}
    await connection.execute(RECORD_SQL, *_values(RECORD_PARAMS, recorded))
    return {"id": values["redemption_id"], "coupon_id": claimed["id"],
            "discount": claimed["discount"], "currency": claimed["currency"],
            "code": claimed["code"], "customer_external_id": claimed["customer_external_id"],
            "case_ref": claimed["case_ref"]}


def redemption_of(row: Mapping[str, Any], values: Mapping[str, Any]) -> Redemption:
    """The redemption the statement wrote, as the model (not attached to a session)."""
    return Redemption(
        id=row["id"], organization_id=values["organization_id"], coupon_id=row["coupon_id"],
        reservation_id=None, order_id=values["order_id"], order_amount=values["order_amount"],
        discount=int(row["discount"]), currency=row["currency"], channel=values["channel"],
        store_id=values["store_id"], till_id=values["till_id"], status="completed",
        actor_id=values["actor_id"], created_at=values["now"], voided_at=None,
        void_reason=None)
