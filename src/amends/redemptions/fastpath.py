"""The redemption hot path on PostgreSQL: one statement, one round trip.

A till's redeem is the request that must be fastest and must never happen twice. On PostgreSQL
it runs as a single data-modifying CTE on an autocommit connection: the conditional UPDATE of
the coupon, the INSERT of the redemption and the INSERT of the audit event are one atomic
statement, so no BEGIN/COMMIT round trips are needed and nothing can commit half-way. When the
UPDATE matches no row (unknown code, used, expired, ...), the caller falls back to the general
path, which explains why with a follow-up read.

On Citus the same redeem is two statements in one transaction, the claim (the UPDATE) and
the record (the redemption and the audit event), both on the organisation's shard: Citus
cannot route REDEEM_SQL's INSERT ... SELECT from the UPDATE's rows to one shard.

The discount expression is `coupons.policy.discount` for single-use kinds, in SQL; a test
checks that both agree. The UPDATE uses it too: a coupon is never used up for a discount of 0
(an order of 0, or a percentage of a few cents).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from amends.actor import Actor
from amends.coupons import policy
from amends.db import driver_connection
from amends.kit.context import request_id_var
from amends.kit.ids import new_id
from amends.models import Redemption


def discount_sql(row: str, amount: str = "$6") -> str:
    """The discount of the coupon `row` on an order of `amount` (REDEEM_SQL's $6)."""
    return f"""
CASE WHEN {row}.kind = 'percent_off'
     THEN LEAST((CAST({amount} AS bigint) * {row}.value + 50) / 100, {amount})
     ELSE LEAST({row}.value, {amount}) END
"""


DISCOUNT_SQL = discount_sql("c")

# The statements' parameters by name; a statement's $n is its position in its tuple.
REDEEM_PARAMS = ("organization_id", "code", "now", "customer_external_id", "order_id",
                 "order_amount", "currency", "redemption_id", "channel", "store_id", "till_id",
                 "actor_id", "audit_id", "other_code", "actor_kind", "actor_label", "request_id")
CLAIM_PARAMS = ("organization_id", "code", "other_code", "now", "customer_external_id",
                "order_amount", "currency")
RECORD_PARAMS = ("organization_id", "redemption_id", "coupon_id", "order_id", "order_amount",
                 "discount", "coupon_currency", "channel", "store_id", "till_id", "actor_id",
                 "now", "audit_id", "actor_kind", "actor_label", "coupon_code", "request_id")


def _placeholders(params: tuple[str, ...]) -> dict[str, str]:
    return {name: f"${n}" for n, name in enumerate(params, 1)}


def _claim(p: dict[str, str]) -> str:
    """The conditional UPDATE that uses the coupon up, or matches nothing."""
    return f"""
    UPDATE coupons
    SET status = 'redeemed', redeemed_at = {p["now"]}, redemption_count = redemption_count + 1,
        reservation_id = NULL, reserved_until = NULL
    WHERE organization_id = {p["organization_id"]}
      AND code IN ({p["code"]}::varchar, {p["other_code"]}::varchar)
      AND kind IN ({", ".join(f"'{kind}'" for kind in policy.SINGLE_USE_KINDS)})
      AND (status = 'active' OR (status = 'reserved' AND reserved_until <= {p["now"]}))
      AND valid_from <= {p["now"]} AND expires_at > {p["now"]}
      AND (NOT bound_to_customer OR customer_external_id = {p["customer_external_id"]})
      AND (min_order IS NULL OR min_order <= {p["order_amount"]})
      AND ({p["currency"]}::varchar IS NULL OR currency = {p["currency"]})
      AND {discount_sql("coupons", p["order_amount"])} > 0
    RETURNING id, kind, value, currency, code"""


def _audit_after(p: dict[str, str], *, code: str, discount: str) -> str:
    """The audit event's `after`, as the transactional path records it."""
    return (f"json_build_object('code', {code}, 'order_id', {p['order_id']}::varchar, "
            f"'order_amount', {p['order_amount']}, 'discount', {discount}, "
            f"'channel', {p['channel']}::varchar, 'store_id', {p['store_id']}::varchar)")


_REDEEMING = _placeholders(REDEEM_PARAMS)
REDEEM_SQL = f"""
WITH c AS ({_claim(_REDEEMING)}
), r AS (
    INSERT INTO redemptions (id, organization_id, coupon_id, order_id, order_amount, discount,
                             currency, channel, store_id, till_id, status, actor_id, created_at)
    SELECT $8, $1, c.id, $5, $6, {DISCOUNT_SQL}, c.currency, $9, $10, $11, 'completed', $12, $3
    FROM c
    RETURNING id, coupon_id, discount, currency
), a AS (
    INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action,
                              object_type, object_id, after, request_id, created_at)
    SELECT $13, $1, $15, $12, $16, 'coupon.redeemed', 'coupon', c.id::text,
           {_audit_after(_REDEEMING, code="c.code", discount="r.discount")},
           $17, $3
    FROM c JOIN r ON r.coupon_id = c.id
)
SELECT r.id, r.coupon_id, r.discount, r.currency FROM r
"""

# On Citus the same redeem is two statements in one transaction, each routed to the
# organisation's shard: Citus plans REDEEM_SQL's INSERT ... SELECT from the UPDATE's rows
# through the coordinator (the rows copied to every worker, and a two-phase commit across
# them), about three times slower than these two.
_CLAIMING = _placeholders(CLAIM_PARAMS)
CLAIM_SQL = f"""
WITH c AS ({_claim(_CLAIMING)}
)
SELECT c.id, c.currency, c.code, {discount_sql("c", _CLAIMING["order_amount"])} AS discount
FROM c
"""
_RECORDING = _placeholders(RECORD_PARAMS)
RECORD_SQL = f"""
WITH r AS (
    INSERT INTO redemptions (id, organization_id, coupon_id, order_id, order_amount, discount,
                             currency, channel, store_id, till_id, status, actor_id, created_at)
    VALUES ($2, $1, $3::uuid, $4, $5, $6, $7, $8, $9, $10, 'completed', $11, $12)
)
INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action,
                          object_type, object_id, after, request_id, created_at)
VALUES ($13, $1, $14, $11, $15, 'coupon.redeemed', 'coupon', $3::uuid::text,
        {_audit_after(_RECORDING, code="$16::varchar", discount="$6::bigint")}, $17, $12)
"""


def arguments(actor: Actor, *, codes: list[str], now: datetime,
              customer_external_id: str | None, order_id: str, order_amount: int,
              currency: str | None, channel: str, store_id: str | None, till_id: str | None
              ) -> dict[str, Any]:
    """The redeem's parameters by name. The statement takes the code's two possible stored
    forms as two scalars (the same one twice when they agree), not an array: with scalars
    PostgreSQL settles on one generic plan for the prepared statement instead of planning
    every call."""
    return {"organization_id": actor.organization_id, "code": codes[0], "now": now,
            "customer_external_id": customer_external_id, "order_id": order_id,
            "order_amount": order_amount, "currency": currency, "redemption_id": new_id(),
            "channel": channel, "store_id": store_id, "till_id": till_id,
            "actor_id": actor.id, "audit_id": new_id(), "other_code": codes[-1],
            "actor_kind": actor.kind, "actor_label": actor.label,
            "request_id": request_id_var.get()}


def _values(params: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
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


async def redeem_row(connection: Any, values: dict[str, Any], *, in_transaction: bool
                     ) -> Mapping[str, Any] | None:
    """Redeem on the driver `connection` (asyncpg's): the row of the redemption (`id`,
    `coupon_id`, `discount`, `currency`), or None when no coupon matched. One statement on
    PostgreSQL; on Citus the claim and the record, in the caller's transaction when it has
    one (`in_transaction`), else in their own."""
    if not await on_citus(connection):
        row: Mapping[str, Any] | None = await connection.fetchrow(
            REDEEM_SQL, *_values(REDEEM_PARAMS, values))
        return row
    if not in_transaction:
        async with connection.transaction():
            return await _claim_and_record(connection, values)
    return await _claim_and_record(connection, values)


async def _claim_and_record(connection: Any, values: dict[str, Any]
                            ) -> Mapping[str, Any] | None:
    claimed = await connection.fetchrow(CLAIM_SQL, *_values(CLAIM_PARAMS, values))
    if claimed is None:
        return None
    recorded = {**values, "coupon_id": claimed["id"], "discount": claimed["discount"],
                "coupon_currency": claimed["currency"], "coupon_code": claimed["code"]}
    await connection.execute(RECORD_SQL, *_values(RECORD_PARAMS, recorded))
    return {"id": values["redemption_id"], "coupon_id": claimed["id"],
            "discount": claimed["discount"], "currency": claimed["currency"]}


async def redeem_single_use(
    session: AsyncSession, actor: Actor, *, codes: list[str], now: datetime,
    customer_external_id: str | None, order_id: str, order_amount: int, currency: str | None,
    channel: str, store_id: str | None, till_id: str | None,
) -> Redemption | None:
    """Redeem in one statement (on Citus two, routed to the organisation's shard); None when
    no coupon matched (the caller explains why).

    When the request's session already holds a connection in a transaction (it read the API
    key, or stores an idempotent response), the statement joins that transaction, so it
    commits with the rest and no second connection is taken from the pool. Otherwise it runs
    alone on an autocommit connection.
    """
    values = arguments(actor, codes=codes, now=now, customer_external_id=customer_external_id,
                       order_id=order_id, order_amount=order_amount, currency=currency,
                       channel=channel, store_id=store_id, till_id=till_id)
    if session.in_transaction():
        raw = await (await session.connection()).get_raw_connection()
        row = await redeem_row(raw.driver_connection, values, in_transaction=True)
    else:
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        async with driver_connection(engine) as connection:
            row = await redeem_row(connection, values, in_transaction=False)
    if row is None:
        return None
    return Redemption(
        id=row["id"], organization_id=actor.organization_id, coupon_id=row["coupon_id"],
        reservation_id=None, order_id=order_id, order_amount=order_amount,
        discount=int(row["discount"]), currency=row["currency"], channel=channel,
        store_id=store_id, till_id=till_id, status="completed", actor_id=actor.id,
        created_at=now, voided_at=None, void_reason=None,
    )

